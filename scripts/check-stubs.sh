#!/usr/bin/env bash
# Proves the schema still builds in every language we publish stubs for:
# lints it, checks gen/ts and gen/go are fresh, refuses breaking changes against the
# previous commit, generates Go and Python stubs and compiles/imports them.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "--- buf lint"
npx buf lint

echo "--- gen/ts is fresh"
npx buf generate
if [ -n "$(git status --porcelain -- gen/ts)" ]; then
  git status --porcelain -- gen/ts
  echo "gen/ts is stale: run 'npm run generate' and commit the result" >&2
  exit 1
fi

echo "--- buf breaking against the previous commit"
if git cat-file -e HEAD~1:proto/pocket/sync/v1/sync.proto 2>/dev/null; then
  npx buf breaking --against '.git#ref=HEAD~1'
else
  echo "no protocol in the previous commit: nothing to compare"
fi

echo "--- Go stubs"
export PATH="$(go env GOPATH)/bin:$PATH"
go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.19.1
npx buf generate --template buf.gen.go.yaml
if [ -n "$(git status --porcelain -- gen/go)" ]; then
  git status --porcelain -- gen/go
  echo "gen/go is stale: run 'npx buf generate --template buf.gen.go.yaml' and commit the result" >&2
  exit 1
fi
go vet ./gen/go/...

echo "--- Python stubs"
bash scripts/setup-python.sh  # the venv, gen/python, and gen/python on the venv's path
.venv/bin/python -c '
import pocket.sync.v1.sync_pb2 as pb
import pocket.sync.v1.sync_connect as rpc
change = pb.ChangeEvent(collection="todos", document_id="a", document="{\"t\":\"é\"}")
assert pb.ChangeEvent.FromString(change.SerializeToString()) == change
assert rpc.SyncServiceClient
print("python stubs import and round-trip")'
