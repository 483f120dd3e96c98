#!/usr/bin/env node
// pocket-sync-server: the reference server from the command line. Every flag
// has an environment variable, for containers.
import { parseArgs } from "node:util";
import { parseStrategy, type ConflictPolicy, type ServerConflictStrategy } from "../core/conflicts.js";
import { DEFAULTS } from "../core/sync-core.js";
import { createLevelStorage, createMemoryStorage, createPostgresStorage, type Storage } from "../storage/index.js";
import { anyAuthenticator, type Authenticate } from "./auth.js";
import { hmacAuthenticator } from "./hmac-token.js";
import { tokenFileAuthenticator } from "./token-file.js";
import { DEFAULT_SHUTDOWN_GRACE_MS } from "./limits.js";
import { createSyncServer } from "./server.js";
import { explain, listenProblem, unreadableFile, unusableDirectory } from "./startup-problems.js";

const HELP = `Usage: pocket-sync-server [options]

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
  --conflict-strategy SPEC    report (default), last-write-wins, server-wins, client-wins or merge;
                              per collection: "merge,notes=server-wins" (env POCKET_CONFLICT_STRATEGY)
  --tombstone-retention-ms N  keep tombstones this long (default 30 days)
  --record-retention-ms N     keep idempotency records, and the states three-way merges need,
                              this long (default and minimum: the tombstone retention)
  --purge-interval-ms N       purge tombstones this often (default 1 hour)
  --heartbeat-ms N            Subscribe heartbeat interval (default 15000)
  --max-document-bytes N      largest document (default and maximum 1048576)
  --max-message-bytes N       largest request (default 8388608)
  --max-discard-bytes N       of a request refused unread, read and drop at most this much so the
                              client can read the refusal; past it, cut the upload (default 67108864)
                              (env POCKET_MAX_DISCARD_BYTES)
  --log-level LEVEL           fatal, error, warn, info (default), debug, trace, silent
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

/**
 * A mistake on the command line: one line on stderr, exit status 2. Nothing
 * the operator can fix by reading a stack trace gets one.
 */
function fail(message: string): never {
  console.error(`pocket-sync-server: ${message} (pocket-sync-server --help lists the options)`);
  process.exit(2);
}

/** The server cannot start: one line on stderr, exit status 1. */
function cannotStart(message: string): never {
  console.error(`pocket-sync-server: ${message}`);
  process.exit(1);
}

const options = {
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
  help: { type: "boolean" },
} as const;

let parsed: ReturnType<typeof parseArgs<{ options: typeof options }>>;
try {
  parsed = parseArgs({ options });
} catch (error) {
  // Node's messages name the offending argument ("Unknown option '--prot'");
  // their advice on quoting dashes is noise here, and one line is the rule.
  const sentences = (error as Error).message.split(/(?<=[.?])\s+/).filter((sentence) => !sentence.startsWith("To specify"));
  fail(sentences.join(" "));
}
const { values } = parsed;

if (values.help) {
  console.log(HELP);
  process.exit(0);
}

const env = process.env;
const setting = (flag: keyof typeof values, variable: string) => (values[flag] as string | undefined) ?? env[variable];
function integer(flag: keyof typeof values, variable: string): number | undefined {
  const raw = setting(flag, variable);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) fail(`--${flag} must be a non-negative integer, got "${raw}"`);
  return n;
}

/** A limit of 0 would refuse everything or cut everything at once. */
function positive(flag: keyof typeof values, variable: string): number | undefined {
  const n = integer(flag, variable);
  if (n === 0) fail(`--${flag} must be at least 1`);
  return n;
}

function conflictPolicy(spec: string | undefined): ConflictPolicy {
  if (!spec) return {};
  let fallback: ServerConflictStrategy | undefined;
  const collections: Record<string, ServerConflictStrategy> = {};
  try {
    for (const part of spec.split(",").map((p) => p.trim()).filter(Boolean)) {
      const [left, right] = part.split("=");
      if (right === undefined) fallback = parseStrategy(left!);
      else collections[left!] = parseStrategy(right);
    }
  } catch (error) {
    fail((error as Error).message);
  }
  return { default: fallback, collections };
}

const storageKind = setting("storage", "POCKET_STORAGE") ?? "level";
if (storageKind !== "level" && storageKind !== "memory" && storageKind !== "postgres") {
  fail(`--storage must be level, memory or postgres, got "${storageKind}"`);
}
const durability = setting("durability", "POCKET_DURABILITY") ?? "process";
if (durability !== "process" && durability !== "fsync") fail(`--durability must be process or fsync, got "${durability}"`);
const dataDir = setting("data-dir", "POCKET_DATA_DIR") ?? "./data";
const postgresUrl = setting("postgres-url", "POCKET_POSTGRES_URL");
const postgresSchema = setting("postgres-schema", "POCKET_POSTGRES_SCHEMA") ?? "pocket";
if (storageKind === "postgres" && !postgresUrl) {
  fail("--storage postgres needs --postgres-url URL or env POCKET_POSTGRES_URL, e.g. postgres://pocket:pocket@127.0.0.1:55432/pocket");
}
// Every flag is checked before anything is opened, so a typo never looks
// like a storage problem.
const port = integer("port", "PORT") ?? 8080;
if (port > 65535) fail(`--port must be at most 65535, got ${port}`);
const host = setting("host", "HOST") ?? "127.0.0.1";
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const logLevel = setting("log-level", "POCKET_LOG_LEVEL") ?? "info";
if (!LOG_LEVELS.includes(logLevel)) fail(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
const conflicts = conflictPolicy(setting("conflict-strategy", "POCKET_CONFLICT_STRATEGY"));
const limits = {
  tombstoneRetentionMs: integer("tombstone-retention-ms", "POCKET_TOMBSTONE_RETENTION_MS"),
  recordRetentionMs: integer("record-retention-ms", "POCKET_RECORD_RETENTION_MS"),
  purgeIntervalMs: integer("purge-interval-ms", "POCKET_PURGE_INTERVAL_MS"),
  heartbeatMs: integer("heartbeat-ms", "POCKET_HEARTBEAT_MS"),
  maxDocumentBytes: integer("max-document-bytes", "POCKET_MAX_DOCUMENT_BYTES"),
  maxMessageBytes: integer("max-message-bytes", "POCKET_MAX_MESSAGE_BYTES"),
  maxDiscardBytes: integer("max-discard-bytes", "POCKET_MAX_DISCARD_BYTES"),
  maxConnections: positive("max-connections", "POCKET_MAX_CONNECTIONS"),
  headersTimeoutMs: positive("headers-timeout-ms", "POCKET_HEADERS_TIMEOUT_MS"),
  bodyTimeoutMs: positive("body-timeout-ms", "POCKET_BODY_TIMEOUT_MS"),
  idleTimeoutMs: positive("idle-timeout-ms", "POCKET_IDLE_TIMEOUT_MS"),
  shutdownGraceMs: integer("shutdown-grace-ms", "POCKET_SHUTDOWN_GRACE_MS") ?? DEFAULT_SHUTDOWN_GRACE_MS,
};

if (limits.recordRetentionMs !== undefined && limits.recordRetentionMs < (limits.tombstoneRetentionMs ?? DEFAULTS.tombstoneRetentionMs)) {
  fail("--record-retention-ms must be at least the tombstone retention (PROTOCOL §12.4: idempotency records outlive tombstones)");
}

/** The URL without its password, for logs. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable URL)";
  }
}

let storage: Storage;
let storageDescription: string;
try {
  if (storageKind === "postgres") {
    storage = createPostgresStorage({ connectionString: postgresUrl!, schema: postgresSchema });
    storageDescription = `PostgreSQL schema "${postgresSchema}" at ${redacted(postgresUrl!)}`;
  } else if (storageKind === "memory") {
    storage = createMemoryStorage();
    storageDescription = "memory";
  } else {
    const problem = unusableDirectory(dataDir);
    if (problem) cannotStart(`cannot use the data directory ${dataDir} (--data-dir): ${problem}`);
    storage = createLevelStorage(dataDir);
    storageDescription = `LevelDB in ${dataDir}`;
  }
} catch (error) {
  fail((error as Error).message); // e.g. a --postgres-schema that is not a plain identifier
}

let authenticate: Authenticate | undefined;
const tokenFile = setting("token-file", "POCKET_TOKEN_FILE");
const hmacSecret = setting("hmac-secret", "POCKET_HMAC_SECRET");
const tokenFileProblem = tokenFile === undefined ? undefined : unreadableFile(tokenFile);
if (tokenFileProblem) cannotStart(`cannot read the token file ${tokenFile} (--token-file): ${tokenFileProblem}`);
// Until the server's logger exists, problems go to stderr.
let logError = (message: string) => console.error(`pocket-sync-server: ${message}`);
try {
  const schemes = [
    tokenFile && tokenFileAuthenticator(tokenFile, { onReloadError: (message) => logError(message) }),
    hmacSecret && hmacAuthenticator(hmacSecret),
  ].filter((a): a is Authenticate => Boolean(a));
  if (schemes.length) authenticate = schemes.length === 1 ? schemes[0] : anyAuthenticator(...schemes);
} catch (error) {
  // A malformed token file or a short secret: the one line that says where.
  console.error(`pocket-sync-server: ${(error as Error).message}`);
  process.exit(2);
}

let server: Awaited<ReturnType<typeof createSyncServer>>;
try {
  server = await createSyncServer({
    storage,
    durability,
    authenticate,
    conflicts,
    ...limits,
    logger: { level: logLevel },
  });
} catch (error) {
  // Storage that can never open (a schema still used by a server from
  // before clustering, a wrong password) is the usual reason: say it in one line, without a stack. An
  // unreachable database is not a reason: the server starts and retries.
  cannotStart(`cannot start on ${storageDescription}: ${explain(error)}`);
}

logError = (message) => server.app.log.error(message);

let url: string;
try {
  url = await server.listen({ port, host });
} catch (error) {
  cannotStart(listenProblem(error, host, port));
}
console.log(
  `Pocket Sync server listening on ${url} (storage: ${storageDescription}, auth: ${authenticate ? "bearer tokens" : "none"})`,
);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1); // a second signal means now
    stopping = true;
    // close() cuts requests at the end of the grace period; storage that
    // still does not close must not hold the process much longer.
    setTimeout(() => {
      console.error("pocket-sync-server: shutdown did not finish in time");
      process.exit(1);
    }, limits.shutdownGraceMs + 5_000).unref();
    authenticate?.close?.();
    server.close().then(
      () => process.exit(0),
      (error) => {
        console.error("shutdown failed:", error);
        process.exit(1);
      },
    );
  });
}
