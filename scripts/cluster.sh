#!/usr/bin/env bash
# The whole scale-out setup for development, in one command: a local
# PostgreSQL (scripts/start-postgres.sh), three Pocket Sync servers sharing one
# schema, and HAProxy in front of them (deploy/haproxy.cfg) on one port for
# every protocol. Prints the load balancer's URL; Ctrl-C stops everything.
#
#   bash scripts/cluster.sh [--port N] [--schema NAME] [-- server flags...]
#
#   --port N       the load balancer's port (default 8080; 0 picks a free one)
#   --schema NAME  the PostgreSQL schema the servers share (default pocket)
#   -- ...         passed to every server, e.g. -- --token-file tokens.txt
#
# Environment: POCKET_POSTGRES_URL uses that database instead of starting
# one; POCKET_LB_IDLE_TIMEOUT (default 60s) is HAProxy's idle timeout. As
# root it installs haproxy from Debian's packages when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

port=8080
schema=pocket
server_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --schema) schema="$2"; shift 2 ;;
    --) shift; server_args=("$@"); break ;;
    *) echo "cluster: unknown argument $1 (see the top of scripts/cluster.sh)" >&2; exit 2 ;;
  esac
done
log() { echo "cluster: $*" >&2; }

if ! command -v haproxy >/dev/null; then
  if [ "$(id -u)" != 0 ]; then log "haproxy is missing: apt-get install haproxy (as root)"; exit 1; fi
  log "installing haproxy (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >&2
fi
url="${POCKET_POSTGRES_URL:-}"
if [ -z "$url" ]; then url="$(bash scripts/start-postgres.sh)"; fi

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
if [ "$port" = 0 ]; then port="$(free_port)"; fi

work="$(mktemp -d)"
pids=()
stop() {
  trap - EXIT INT TERM
  # Servers first (SIGTERM: they finish what they took and end streams
  # cleanly), then the load balancer.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

servers=()
for i in 1 2 3; do
  # Each server picks a free port and says which; its log lines are prefixed.
  node --import tsx server/src/serve/cli.ts --storage postgres --postgres-url "$url" --postgres-schema "$schema" \
    --host 127.0.0.1 --port 0 --log-level warn "${server_args[@]}" > >(tee "$work/s$i.log" | sed -u "s/^/[s$i] /" >&2) 2>&1 &
  pids+=($!)
done
for i in 1 2 3; do
  address=""
  for _ in $(seq 1 300); do
    address="$(grep -oE 'listening on http://[^ ]+' "$work/s$i.log" 2>/dev/null | head -1 | cut -d/ -f3 || true)"
    [ -n "$address" ] && break
    kill -0 "${pids[$((i - 1))]}" 2>/dev/null || { log "server s$i exited"; exit 1; }
    sleep 0.1
  done
  [ -n "$address" ] || { log "server s$i did not start"; exit 1; }
  servers+=("$address")
done

export POCKET_LB_BIND="127.0.0.1:$port" POCKET_LB_IDLE_TIMEOUT="${POCKET_LB_IDLE_TIMEOUT:-60s}"
export POCKET_SERVER_1="${servers[0]}" POCKET_SERVER_2="${servers[1]}" POCKET_SERVER_3="${servers[2]}"
haproxy -db -f deploy/haproxy.cfg > >(sed -u "s/^/[lb] /" >&2) 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "${pids[3]}" 2>/dev/null || { log "haproxy exited"; exit 1; }
  sleep 0.1
done
echo "Pocket Sync cluster listening on http://127.0.0.1:$port (servers ${servers[*]}, PostgreSQL schema \"$schema\")"
# Until Ctrl-C, or until one of them dies.
wait -n "${pids[@]}"
log "a process exited; stopping the others"
exit 1
