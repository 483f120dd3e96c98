#!/usr/bin/env bash
# Starts a local PostgreSQL for the postgres storage (tests, CI, trying it out)
# and prints its URL on stdout; everything else goes to stderr, so
#   export POCKET_TEST_POSTGRES_URL="$(bash scripts/start-postgres.sh)"
# works. Debian/Ubuntu, as root: installs the postgresql package if needed,
# runs a dedicated cluster "pocket" on 127.0.0.1:55432 (the distribution's
# default cluster is left alone), and creates user and database "pocket"
# (password "pocket"). Idempotent: a second run reuses the running cluster.
set -euo pipefail

PORT="${POCKET_POSTGRES_PORT:-55432}"
CLUSTER=pocket
log() { echo "start-postgres: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "run me as root (I install packages and manage a cluster as user postgres)"
  exit 1
fi

if ! command -v pg_createcluster >/dev/null || ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing postgresql (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

# Reuse the cluster if it exists (whatever its version), else create it with
# the newest installed server.
version="$(pg_lsclusters -h | awk -v c="$CLUSTER" '$2 == c { print $1; exit }')"
if [ -z "$version" ]; then
  version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
  log "creating cluster $version/$CLUSTER on 127.0.0.1:$PORT"
  pg_createcluster "$version" "$CLUSTER" --port "$PORT" >&2
fi
# Local TCP only (postgresql.conf includes conf.d).
conf="/etc/postgresql/$version/$CLUSTER/conf.d/pocket.conf"
if [ ! -f "$conf" ]; then
  echo "listen_addresses = '127.0.0.1'" >"$conf"
fi
port_of_cluster="$(pg_lsclusters -h | awk -v c="$CLUSTER" -v v="$version" '$1 == v && $2 == c { print $3 }')"
if [ "$port_of_cluster" != "$PORT" ]; then
  log "cluster $version/$CLUSTER exists on port $port_of_cluster, not $PORT: drop it (pg_dropcluster --stop $version $CLUSTER) or set POCKET_POSTGRES_PORT=$port_of_cluster"
  exit 1
fi

status="$(pg_lsclusters -h | awk -v c="$CLUSTER" -v v="$version" '$1 == v && $2 == c { print $4 }')"
if [ "$status" != online ]; then
  log "starting cluster $version/$CLUSTER"
  pg_ctlcluster "$version" "$CLUSTER" start >&2
fi

for _ in $(seq 1 120); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 0.5
done
if ! pg_isready -q -h 127.0.0.1 -p "$PORT"; then
  log "PostgreSQL is not accepting connections on 127.0.0.1:$PORT; its log:"
  tail -n 30 "/var/log/postgresql/postgresql-$version-$CLUSTER.log" >&2 || true
  exit 1
fi

# As the superuser, over the cluster's Unix socket (peer authentication).
admin() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres "$@"; }
admin >&2 <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pocket') THEN
    CREATE ROLE pocket LOGIN PASSWORD 'pocket';
  ELSE
    ALTER ROLE pocket LOGIN PASSWORD 'pocket';
  END IF;
END
$$;
SQL
if [ -z "$(admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'pocket'")" ]; then
  admin -c "CREATE DATABASE pocket OWNER pocket" >&2
fi

url="postgres://pocket:pocket@127.0.0.1:$PORT/pocket"
# The URL must work over TCP with the password, as the server will use it.
PGPASSWORD=pocket psql -X -q -h 127.0.0.1 -p "$PORT" -U pocket -d pocket -tAc "SELECT 1" >/dev/null
log "ready: PostgreSQL $version on 127.0.0.1:$PORT"
echo "$url"
