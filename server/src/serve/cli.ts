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
import { ownerFieldAuthorize, ownerFieldProblem } from "./owner-field.js";
import { parseIndexSpecs, type IndexSpec } from "../storage/index-values.js";
import { createSyncServer } from "./server.js";
import { explain, listenProblem, unreadableFile, unusableDirectory } from "./startup-problems.js";
import { CLI_OPTIONS as options, ENV, HELP, type Flag } from "./cli-options.js";
import { prettyLogStream } from "./log-format.js";

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
/** A flag's value, else its environment variable's. */
const setting = (flag: Flag) => (values[flag] as string | undefined) ?? env[ENV[flag]];
function integer(flag: Flag): number | undefined {
  const raw = setting(flag);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) fail(`--${flag} must be a non-negative integer, got "${raw}"`);
  return n;
}

/** A limit of 0 would refuse everything or cut everything at once. */
function positive(flag: Flag): number | undefined {
  const n = integer(flag);
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

const storageKind = setting("storage") ?? "level";
if (storageKind !== "level" && storageKind !== "memory" && storageKind !== "postgres") {
  fail(`--storage must be level, memory or postgres, got "${storageKind}"`);
}
const durability = setting("durability") ?? "process";
if (durability !== "process" && durability !== "fsync") fail(`--durability must be process or fsync, got "${durability}"`);
const dataDir = setting("data-dir") ?? "./data";
const postgresUrl = setting("postgres-url");
const postgresSchema = setting("postgres-schema") ?? "pocket";
if (storageKind === "postgres" && !postgresUrl) {
  fail("--storage postgres needs --postgres-url URL or env POCKET_POSTGRES_URL, e.g. postgres://pocket:pocket@127.0.0.1:55432/pocket");
}
// Every flag is checked before anything is opened, so a typo never looks
// like a storage problem.
const port = integer("port") ?? 8080;
if (port > 65535) fail(`--port must be at most 65535, got ${port}`);
const host = setting("host") ?? "127.0.0.1";
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const logLevel = setting("log-level") ?? "info";
if (!LOG_LEVELS.includes(logLevel)) fail(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
// A person at a terminal reads lines; anything else (a file, a pipe, a log collector) parses JSON.
const logFormat = setting("log-format") ?? (process.stdout.isTTY ? "pretty" : "json");
if (logFormat !== "pretty" && logFormat !== "json") fail(`--log-format must be pretty or json, got "${logFormat}"`);
const logger =
  logFormat === "pretty"
    ? { level: logLevel, stream: prettyLogStream(process.stdout, Boolean(process.stdout.isTTY) && !env.NO_COLOR) }
    : { level: logLevel };
const conflicts = conflictPolicy(setting("conflict-strategy"));
const ownerField = setting("owner-field");
const ownerProblem = ownerField === undefined ? undefined : ownerFieldProblem(ownerField);
if (ownerProblem) fail(`--owner-field ${ownerProblem}`);
const readRule = ownerField === undefined ? {} : { authorize: ownerFieldAuthorize(ownerField), documentReadRule: true, readRuleName: `owner-field ${ownerField}` };
let indexes: IndexSpec[] = [];
const indexList = setting("index");
try {
  if (indexList !== undefined) indexes = parseIndexSpecs(indexList);
} catch (error) {
  fail(`--index: ${(error as Error).message}`);
}
const limits = {
  tombstoneRetentionMs: integer("tombstone-retention-ms"),
  recordRetentionMs: integer("record-retention-ms"),
  purgeIntervalMs: integer("purge-interval-ms"),
  heartbeatMs: integer("heartbeat-ms"),
  maxDocumentBytes: integer("max-document-bytes"),
  maxMessageBytes: integer("max-message-bytes"),
  maxDiscardBytes: integer("max-discard-bytes"),
  maxConnections: positive("max-connections"),
  headersTimeoutMs: positive("headers-timeout-ms"),
  bodyTimeoutMs: positive("body-timeout-ms"),
  idleTimeoutMs: positive("idle-timeout-ms"),
  shutdownGraceMs: integer("shutdown-grace-ms") ?? DEFAULT_SHUTDOWN_GRACE_MS,
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
const tokenFile = setting("token-file");
const hmacSecret = setting("hmac-secret");
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
    ...readRule,
    indexes,
    ...limits,
    logger,
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
