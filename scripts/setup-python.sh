#!/usr/bin/env bash
# Sets up Python for gen/python and examples/python-client, idempotently:
#   1. .venv (python3 3.11+) with scripts/python-requirements.txt installed;
#   2. a .pth file, so .venv/bin/python imports gen/python (committed, the
#      package pocket-sync-protocol; scripts/check-stubs.sh keeps it fresh) and
#      examples/python-client (`.venv/bin/python -m pocket_client ...`).
# Steps whose inputs did not change since the last run are skipped (hashes are
# kept in .venv), so only the first run, or a changed requirements file,
# touches the network.
#
#   bash scripts/setup-python.sh           set up (or check it is up to date)
#   bash scripts/setup-python.sh --check   exit 3, with the reason on stderr, if this machine has no usable python3
set -euo pipefail
# The repository this script is in, also when called through a symlink (a guide test runs the
# docs from a directory of links): .venv and the .pth it writes must name the real paths.
cd "$(dirname "$(readlink -f "$0")")/.."
ROOT="$PWD"
PYTHON="${POCKET_PYTHON:-python3}"

if ! "$PYTHON" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "no usable Python: the Python client needs python3 3.11+ with the venv module (python3-venv on Debian and Ubuntu), or POCKET_PYTHON naming one" >&2
  exit 3
fi
[ "${1:-}" = "--check" ] && exit 0

# One setup at a time (a test run and a CI script may start together).
exec 9<scripts/setup-python.sh
if command -v flock >/dev/null; then flock 9; fi

digest() { "$PYTHON" -c '
import hashlib, pathlib, sys
h = hashlib.sha256()
for name in sys.argv[1:]:
    for path in sorted(p for p in pathlib.Path(name).rglob("*") if p.is_file()) if pathlib.Path(name).is_dir() else [pathlib.Path(name)]:
        h.update(str(path).encode() + b"\0" + path.read_bytes())
print(h.hexdigest())' "$@"; }

venv_key="$("$PYTHON" -c 'import sys; print(sys.version)') $(digest scripts/python-requirements.txt)"
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.pocket-requirements 2>/dev/null)" != "$venv_key" ]; then
  echo "--- .venv: installing scripts/python-requirements.txt" >&2
  # From scratch: a package dropped from the requirements must not linger (connectrpc and
  # connect-python install the same module).
  "$PYTHON" -m venv --clear .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/python-requirements.txt
  echo "$venv_key" > .venv/.pocket-requirements
fi

site="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
printf '%s\n' "$ROOT/gen/python" "$ROOT/examples/python-client" > "$site/pocket-sync.pth"
