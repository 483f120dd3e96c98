#!/usr/bin/env bash
# CI for the conformance suite (docs/CONFORMANCE.md):
#   1. server mode against the reference server (started here), and against
#      three reference servers on one PostgreSQL schema behind HAProxy
#      (scripts/cluster.sh; PostgreSQL from POCKET_TEST_POSTGRES_URL, else
#      scripts/start-postgres.sh);
#   2. client mode against the TypeScript reference client (its control-protocol
#      adapter, conformance/adapters/ts-client.ts), the Go example client and
#      the Python example client (after its own pytest); Go and Python must
#      pass every client case of the suites they claim (all but filters).
# JUnit files land in ${JUNIT_DIR:-.}/junit-conformance-*.xml. Exits non-zero
# on any failed case that is not listed in conformance/known-failing-*.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
JUNIT_DIR="${JUNIT_DIR:-.}"
CLI=(node --import tsx conformance/src/cli.ts)
status=0
known() { if [ -f "conformance/known-failing-$1.txt" ]; then echo "--known-failing conformance/known-failing-$1.txt"; fi; }
# The example clients claim every suite but filters (PROTOCOL §4.10, which they
# do not implement), every strategy and sync mode: any other skip is a regression.
no_skips() {
  if grep '<skipped' "$JUNIT_DIR/junit-conformance-client-$1.xml" | grep -v 'does not claim suite filters' | grep -q .; then
    echo "the $1 example client skipped cases (see junit-conformance-client-$1.xml)"
    status=1
  fi
}

echo "--- server mode: reference server"
TMP="$(mktemp -d)"
SERVER_PID=""
CLUSTER_PID=""
stop_pid() { if [ -n "$1" ]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi; }
cleanup() { stop_pid "$SERVER_PID"; stop_pid "$CLUSTER_PID"; rm -rf "$TMP"; }
trap cleanup EXIT
printf 'conformance-token alice\nconformance-token2 bob collections=shared\n' > "$TMP/tokens"
# LevelDB, the default storage: its commits wait for I/O, so concurrent pushes
# share commit groups as in production (idempotency/copies-in-one-commit-group).
node --import tsx server/src/serve/cli.ts --port 0 --host 127.0.0.1 --storage level --data-dir "$TMP/data" \
  --token-file "$TMP/tokens" \
  --conflict-strategy "report,lww=last-write-wins,serverwins=server-wins,clientwins=client-wins,merged=merge" \
  --tombstone-retention-ms 3000 --record-retention-ms 120000 --purge-interval-ms 100 --heartbeat-ms 1000 \
  --index '*.list,*.tag' --log-level warn > "$TMP/server.log" 2>&1 &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
  URL="$(grep -oE 'listening on http://[^ ]+' "$TMP/server.log" | head -1 | cut -d' ' -f3 || true)"
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log"; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "the reference server did not start"; cat "$TMP/server.log"; exit 1; }
for protocol in connect-proto connect-json grpc grpc-web; do
  echo "--- server mode over $protocol"
  # shellcheck disable=SC2046
  "${CLI[@]}" server --url "$URL" --token conformance-token --token2 conformance-token2 \
    --protocol "$protocol" --config conformance/reference-server.features.yaml \
    --junit "$JUNIT_DIR/junit-conformance-server-$protocol.xml" $(known server) || status=1
done

stop_pid "$SERVER_PID"
SERVER_PID=""

echo "--- server mode: three reference servers on PostgreSQL behind HAProxy"
POSTGRES_URL="${POCKET_TEST_POSTGRES_URL:-$(bash scripts/start-postgres.sh)}"
CLUSTER_SCHEMA="conformance_cluster_$$"
POCKET_POSTGRES_URL="$POSTGRES_URL" bash scripts/cluster.sh --port 0 --schema "$CLUSTER_SCHEMA" -- \
  --token-file "$TMP/tokens" \
  --conflict-strategy "report,lww=last-write-wins,serverwins=server-wins,clientwins=client-wins,merged=merge" \
  --tombstone-retention-ms 3000 --purge-interval-ms 200 --heartbeat-ms 1000 --index '*.list,*.tag' > "$TMP/cluster.log" 2>&1 &
CLUSTER_PID=$!
LB_URL=""
for _ in $(seq 1 600); do
  LB_URL="$(grep -oE 'cluster listening on http://[^ ]+' "$TMP/cluster.log" | head -1 | cut -d' ' -f4 || true)"
  [ -n "$LB_URL" ] && break
  kill -0 "$CLUSTER_PID" 2>/dev/null || { cat "$TMP/cluster.log"; exit 1; }
  sleep 0.1
done
[ -n "$LB_URL" ] || { echo "the cluster did not start"; cat "$TMP/cluster.log"; exit 1; }
for protocol in connect-proto connect-json grpc grpc-web; do
  echo "--- server mode through the load balancer over $protocol"
  # shellcheck disable=SC2046
  "${CLI[@]}" server --url "$LB_URL" --token conformance-token --token2 conformance-token2 \
    --protocol "$protocol" --config conformance/reference-cluster.features.yaml \
    --junit "$JUNIT_DIR/junit-conformance-cluster-$protocol.xml" $(known server) || status=1
done
stop_pid "$CLUSTER_PID"
CLUSTER_PID=""
node --input-type=module -e '
  import pg from "pg";
  const client = new pg.Client({ connectionString: process.argv[1] });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${process.argv[2]}" CASCADE`);
  await client.end();
' "$POSTGRES_URL" "$CLUSTER_SCHEMA" || true

echo "--- client mode: TypeScript reference client"
# shellcheck disable=SC2046
"${CLI[@]}" client --junit "$JUNIT_DIR/junit-conformance-client-ts.xml" $(known client-ts) \
  -- node --import tsx conformance/adapters/ts-client.ts || status=1

echo "--- client mode: Go example client"
go vet ./examples/go-client/... || status=1
go test -count=1 ./examples/go-client/... || status=1
go build -o "$TMP/go-client" ./examples/go-client
# shellcheck disable=SC2046
"${CLI[@]}" client --junit "$JUNIT_DIR/junit-conformance-client-go.xml" $(known client-go) -- "$TMP/go-client" || status=1
no_skips go

echo "--- Python example client: its own tests"
# The venv (rebuilt whenever the pins change) and gen/python.
bash scripts/setup-python.sh
.venv/bin/python -m pytest -q -p no:cacheprovider examples/python-client \
  --junitxml "$JUNIT_DIR/junit-conformance-python.xml" || status=1

echo "--- client mode: Python example client"
# shellcheck disable=SC2046
"${CLI[@]}" client --junit "$JUNIT_DIR/junit-conformance-client-python.xml" $(known client-python) \
  -- .venv/bin/python -m pocket_client control || status=1
no_skips python

exit "$status"
