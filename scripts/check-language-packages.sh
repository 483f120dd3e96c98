#!/usr/bin/env bash
# The Go module gen/go and the Python package gen/python as a user gets them:
# in an empty temporary directory, `go get` the module and `pip install` the
# package, then push a document to a running reference server and pull it back
# with each. The module is not on a Go module proxy yet, so the user's go.mod
# points the module path at a clone with a replace directive (once the
# repository is published with gen/go/vX.Y.Z tags, `go get
# github.com/pocket-sync/pocket-sync/gen/go@latest` needs no replace).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; rm -rf "$WORK"; }
trap cleanup EXIT

node --import tsx server/src/serve/cli.ts --port 0 --storage memory --log-level warn > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
  URL="$(grep -oE 'listening on http://[^ ]+' "$WORK/server.log" | head -1 | cut -d' ' -f3 || true)"
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "the reference server did not start" >&2; cat "$WORK/server.log"; exit 1; }

echo "--- go get github.com/pocket-sync/pocket-sync/gen/go, in an empty module"
mkdir "$WORK/go-user" && cd "$WORK/go-user"
go mod init example.com/pocket-user >/dev/null 2>&1
go mod edit -replace "github.com/pocket-sync/pocket-sync/gen/go=$ROOT/gen/go"
go get github.com/pocket-sync/pocket-sync/gen/go@v0.0.0 connectrpc.com/connect@v1.19.1
cat > main.go <<'GO'
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"connectrpc.com/connect"
	syncv1 "github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1"
	"github.com/pocket-sync/pocket-sync/gen/go/pocket/sync/v1/syncv1connect"
)

func main() {
	client := syncv1connect.NewSyncServiceClient(http.DefaultClient, os.Args[1])
	ctx := context.Background()
	_, err := client.Push(ctx, connect.NewRequest(&syncv1.PushRequest{
		ClientId: "go-user",
		Changes: []*syncv1.ChangeEvent{{
			Operation: syncv1.Operation_OPERATION_INSERT, Collection: "go", DocumentId: "g1",
			Document: `{"from":"go"}`, ClientSequence: 1, Timestamp: &syncv1.HybridLogicalClock{WallTimeMs: 1700000000000},
		}},
	}))
	if err != nil {
		log.Fatal(err)
	}
	pulled, err := client.Pull(ctx, connect.NewRequest(&syncv1.PullRequest{Collections: []string{"go"}}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pulled.Msg.GetChanges()[0].GetDocument())
}
GO
go mod tidy
got="$(go run . "$URL")"
[ "$got" = '{"from":"go"}' ] || { echo "the Go user pulled $got" >&2; exit 1; }
echo "go get works: pushed and pulled $got"

echo "--- pip install ./gen/python, in an empty virtual environment"
cd "$WORK"
python3 -m venv venv
# A copy, as a user's pip gets it: the build leaves nothing in the clone.
cp -r "$ROOT/gen/python" "$WORK/pocket-sync-protocol"
venv/bin/pip install -q --disable-pip-version-check "$WORK/pocket-sync-protocol"
got="$(venv/bin/python - "$URL" <<'PY'
import sys
from pocket.sync.v1 import sync_pb2 as pb
from pocket.sync.v1.sync_connect import SyncServiceClientSync

with SyncServiceClientSync(sys.argv[1]) as client:
    client.push(pb.PushRequest(client_id="python-user", changes=[pb.ChangeEvent(
        operation=pb.OPERATION_INSERT, collection="py", document_id="p1", document='{"from":"python"}',
        client_sequence=1, timestamp=pb.HybridLogicalClock(wall_time_ms=1700000000000))]))
    print(client.pull(pb.PullRequest(collections=["py"])).changes[0].document)
PY
)"
[ "$got" = '{"from":"python"}' ] || { echo "the Python user pulled $got" >&2; exit 1; }
echo "pip install works: pushed and pulled $got"
