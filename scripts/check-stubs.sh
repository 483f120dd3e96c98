#!/usr/bin/env bash
# Proves the schema still builds in every language we publish stubs for:
# lints it, checks gen/ts, gen/go and gen/python are fresh, refuses breaking
# changes against the previous commit, and compiles/imports the Go and Python
# stubs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "--- buf lint"
npx buf lint

# The stubs are committed beside hand-written package files (package.json,
# go.mod, pyproject.toml), so they are regenerated into a temporary directory
# and compared, file by file, with what is committed.
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
same_as_committed() { # DIR COMMAND: the generated DIR under $TMP equals the committed one
  local dir="$1" command="$2"
  if ! diff -r -x package.json -x tsconfig.build.json -x dist -x node_modules -x go.mod -x go.sum -x pyproject.toml -x README.md -x build -x '*.egg-info' -x __pycache__ "$TMP/$dir" "$dir"; then
    echo "$dir is stale: run '$command' and commit the result" >&2
    exit 1
  fi
}

echo "--- gen/ts is fresh (the package @pocket-sync/protocol)"
npx buf generate -o "$TMP"
same_as_committed gen/ts "npm run generate"

echo "--- buf breaking against the previous commit"
if git cat-file -e HEAD~1:proto/pocket/sync/v1/sync.proto 2>/dev/null; then
  npx buf breaking --against '.git#ref=HEAD~1'
else
  echo "no protocol in the previous commit: nothing to compare"
fi

echo "--- Go stubs (the module github.com/pocket-sync/pocket-sync/gen/go)"
export PATH="$(go env GOPATH)/bin:$PATH"
go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.19.1
npx buf generate --template buf.gen.go.yaml -o "$TMP"
same_as_committed gen/go "npx buf generate --template buf.gen.go.yaml"
(cd gen/go && go mod verify >/dev/null && go vet ./... && go mod tidy -diff)

echo "--- Python stubs (the package pocket-sync-protocol)"
bash scripts/setup-python.sh  # the venv with the pinned generators and runtime
PATH="$PWD/.venv/bin:$PATH" npx buf generate --template buf.gen.python.yaml -o "$TMP"
same_as_committed gen/python 'PATH="$PWD/.venv/bin:$PATH" npx buf generate --template buf.gen.python.yaml'
.venv/bin/python -c '
import pocket.sync.v1.sync_pb2 as pb
import pocket.sync.v1.sync_connect as rpc
change = pb.ChangeEvent(collection="todos", document_id="a", document="{\"t\":\"é\"}")
assert pb.ChangeEvent.FromString(change.SerializeToString()) == change
assert rpc.SyncServiceClient
print("python stubs import and round-trip")'
