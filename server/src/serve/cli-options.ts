// The command line's flags, the environment variable of each, and the --help
// text that lists both. Kept apart from cli.ts (which starts a server when
// imported) so that a test can check that every flag's variable is in --help.

/** Every flag, as node:util parseArgs takes them. */
export const CLI_OPTIONS = {
  port: { type: "string" },
  host: { type: "string" },
  "data-dir": { type: "string" },
  storage: { type: "string" },
  "postgres-url": { type: "string" },
  "postgres-schema": { type: "string" },
  durability: { type: "string" },
  "token-file": { type: "string" },
  "hmac-secret": { type: "string" },
  "conflict-strategy": { type: "string" },
  "owner-field": { type: "string" },
  index: { type: "string" },
  "tombstone-retention-ms": { type: "string" },
  "record-retention-ms": { type: "string" },
  "purge-interval-ms": { type: "string" },
  "heartbeat-ms": { type: "string" },
  "max-document-bytes": { type: "string" },
  "max-message-bytes": { type: "string" },
  "max-discard-bytes": { type: "string" },
  "max-connections": { type: "string" },
  "headers-timeout-ms": { type: "string" },
  "body-timeout-ms": { type: "string" },
  "idle-timeout-ms": { type: "string" },
  "shutdown-grace-ms": { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  help: { type: "boolean" },
} as const;

/** A flag that takes a value; each has an environment variable, for containers. */
export type Flag = Exclude<keyof typeof CLI_OPTIONS, "help">;

/** The environment variable read when a flag is not given. */
export const ENV: Readonly<Record<Flag, string>> = {
  port: "PORT",
  host: "HOST",
  "data-dir": "POCKET_DATA_DIR",
  storage: "POCKET_STORAGE",
  "postgres-url": "POCKET_POSTGRES_URL",
  "postgres-schema": "POCKET_POSTGRES_SCHEMA",
  durability: "POCKET_DURABILITY",
  "token-file": "POCKET_TOKEN_FILE",
  "hmac-secret": "POCKET_HMAC_SECRET",
  "conflict-strategy": "POCKET_CONFLICT_STRATEGY",
  "owner-field": "POCKET_OWNER_FIELD",
  index: "POCKET_INDEX",
  "tombstone-retention-ms": "POCKET_TOMBSTONE_RETENTION_MS",
  "record-retention-ms": "POCKET_RECORD_RETENTION_MS",
  "purge-interval-ms": "POCKET_PURGE_INTERVAL_MS",
  "heartbeat-ms": "POCKET_HEARTBEAT_MS",
  "max-document-bytes": "POCKET_MAX_DOCUMENT_BYTES",
  "max-message-bytes": "POCKET_MAX_MESSAGE_BYTES",
  "max-discard-bytes": "POCKET_MAX_DISCARD_BYTES",
  "max-connections": "POCKET_MAX_CONNECTIONS",
  "headers-timeout-ms": "POCKET_HEADERS_TIMEOUT_MS",
  "body-timeout-ms": "POCKET_BODY_TIMEOUT_MS",
  "idle-timeout-ms": "POCKET_IDLE_TIMEOUT_MS",
  "shutdown-grace-ms": "POCKET_SHUTDOWN_GRACE_MS",
  "log-level": "POCKET_LOG_LEVEL",
  "log-format": "POCKET_LOG_FORMAT",
};

export const HELP = `Usage: pocket-sync-server [options]

Every option can also be set by the environment variable named beside it; the
option wins when both are given.

  --port N                    port (env PORT; default 8080; 0 picks a free one)
  --host H                    interface (env HOST; default 127.0.0.1)
  --data-dir DIR              LevelDB directory (env POCKET_DATA_DIR; default ./data)
  --storage level|memory|postgres
                              storage (env POCKET_STORAGE; default level)
  --postgres-url URL          with --storage postgres: postgres://user:password@host:port/database
                              (env POCKET_POSTGRES_URL). Any number of servers may share a schema
                              behind a load balancer (README, "Scaling out"). A database that is
                              unreachable (at start or later) is retried; meanwhile writes answer
                              unavailable and health says NOT_SERVING
  --postgres-schema NAME      schema holding the tables, created or migrated if needed
                              (env POCKET_POSTGRES_SCHEMA; default pocket)
  --durability process|fsync  process: acknowledged pushes survive a killed process;
                              fsync: they survive power loss (env POCKET_DURABILITY);
                              on postgres both survive power loss, as PostgreSQL commits
  --token-file FILE           bearer tokens, lines "token principal [collections=a,b] [readonly]"
                              (env POCKET_TOKEN_FILE); a malformed file refuses to start. Watched:
                              an edit applies within a second and ends open streams of removed
                              tokens; a malformed edit keeps the previous tokens and is logged
  --hmac-secret S             accept HMAC-signed tokens, v1.<claims>.<signature> (env
                              POCKET_HMAC_SECRET, at least 16 characters)
  --owner-field NAME          a document whose top-level NAME is a string is read only by the
                              principal of that id (others follow the token scopes); when it
                              changes, the old owner's devices get a removal and the new owner's
                              the document (PROTOCOL §13.6); started with another NAME (or
                              none), every client resyncs once (§13.7) (env POCKET_OWNER_FIELD)
  --index SPECS               fields clients may filter on (PROTOCOL §4.10): "todos.listId,*.ownerId"
                              (a field of one collection, or of every one); built on existing data
                              at start. Every server on one database needs the same (env POCKET_INDEX)
  --conflict-strategy SPEC    report (default), last-write-wins, server-wins, client-wins or merge;
                              per collection: "merge,notes=server-wins" (env POCKET_CONFLICT_STRATEGY)
  --tombstone-retention-ms N  keep tombstones this long (env POCKET_TOMBSTONE_RETENTION_MS;
                              default 30 days)
  --record-retention-ms N     keep idempotency records, and the states three-way merges need,
                              this long (env POCKET_RECORD_RETENTION_MS; default and minimum:
                              the tombstone retention)
  --purge-interval-ms N       purge tombstones this often (env POCKET_PURGE_INTERVAL_MS;
                              default 1 hour)
  --heartbeat-ms N            Subscribe heartbeat interval (env POCKET_HEARTBEAT_MS; default 15000)
  --max-document-bytes N      largest document (env POCKET_MAX_DOCUMENT_BYTES; default and
                              maximum 1048576)
  --max-message-bytes N       largest request (env POCKET_MAX_MESSAGE_BYTES; default 8388608)
  --max-discard-bytes N       of a request refused unread, read and drop at most this much so the
                              client can read the refusal; past it, cut the upload (default 67108864)
                              (env POCKET_MAX_DISCARD_BYTES)
  --log-level LEVEL           fatal, error, warn, info (default), debug, trace, silent
                              (env POCKET_LOG_LEVEL)
  --log-format pretty|json    pretty: one readable line per event; json: one JSON object per line
                              (env POCKET_LOG_FORMAT; default pretty when stdout is a terminal,
                              json otherwise)
  --help                      this text

Connections:
  --max-connections N         connections open at once; more are closed on arrival (default half the
                              open-file limit, at most 10000) (env POCKET_MAX_CONNECTIONS)
  --headers-timeout-ms N      a request head, or the HTTP/2 preface and SETTINGS, must arrive within
                              this of connecting (default 10000) (env POCKET_HEADERS_TIMEOUT_MS)
  --body-timeout-ms N         a request body that sends nothing for this long is cut off
                              (default 30000) (env POCKET_BODY_TIMEOUT_MS)
  --idle-timeout-ms N         a connection without a request in progress (HTTP/2: without a stream)
                              is closed after this (default 65000) (env POCKET_IDLE_TIMEOUT_MS)
  --shutdown-grace-ms N       on SIGTERM or SIGINT, requests in progress get this long to finish
                              before they are cut; then the process exits (default 10000)
                              (env POCKET_SHUTDOWN_GRACE_MS)
  Subscribe streams are not subject to these timeouts once their request is in.

Without --token-file or --hmac-secret the server accepts every call as "anonymous".

Exit status: 0 after a clean shutdown; 1 when the server cannot start (a port in
use, a missing token file, an unusable data directory, a storage that cannot
open); 2 for a command-line mistake. Either way one line on stderr says why.`;
