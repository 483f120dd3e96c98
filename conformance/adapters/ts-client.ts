// The conformance control-protocol adapter for the reference TypeScript client
// (client/src/node.ts), built on its public API only: createDatabase (LevelDB
// in the data directory the runner gives), createSyncEngine, the engine's
// start/stop/forceSync/getStatus/getStats/errors$, the collections' get, find,
// insert, update and delete, and db.syncStore (the documented "bring your own
// database" interface) for what the control protocol reports: pending
// changes, their base revisions and the stored checkpoint.
//
//   node --import tsx conformance/src/cli.ts client -- node --import tsx conformance/adapters/ts-client.ts
//
// It speaks the control protocol (proto/pocket/conformance/v1/control.proto) on
// stdin/stdout: 4-byte big-endian length + binary ClientRequest in, one
// ClientResponse per request out. Logs go to stderr.
//
// Mapping:
//   configure      createDatabase({ name: <data_dir>/pocket-db, storage: "level" }) and
//                  createSyncEngine(db, ...); SYNC_MODE_PULL polls (useWebSocket: false),
//                  SYNC_MODE_SUBSCRIBE keeps the live stream; the engine is started
//                  unless start_offline. The database chooses its own client id
//                  (Configure.client_id cannot be passed through the public API).
//                  Configure.filters become { name, filter } entries of `collections`:
//                  each condition's values parsed from JSON text, one value as
//                  equality, several as "in"; with no collection named, beside
//                  "*" (every collection).
//   write/delete   insert, or update with every dropped key set to undefined (a full
//                  replacement); delete.
//   sync_now       forceSync() (answered unavailable without any call while offline:
//                  forceSync itself does not check whether the engine runs).
//   set_online     start() / stop().
//   get_status     syncStore.pendingCount / getCheckpoint, errors$ for last_error.
//   crash          AFTER_FIRST_WRITE_OF_PAGE: the store the engine writes through
//                  kills the process (SIGKILL) as soon as an applyRemoteChanges (one
//                  atomic write: a page's changes and its checkpoint) has resolved.
//
// POCKET_ADAPTER_BUG breaks the adapter on purpose, for the suite's own tests
// (conformance/src/client-typescript.test.ts proves the client suites can fail):
//   echo           re-writes every document pulled from the server (pushed back, §9.3)
//   no-checkpoint  the engine never sees the stored checkpoint (always from the beginning, §9.4)
//   no-retry       a change whose push failed once is given up (dropped locally, §9.1)
//   sync-offline   sync_now syncs even while offline (§1)
//   no-filter      the configured filters are dropped: collections sync whole (§4.10)
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  ClientRequestSchema,
  ClientResponseSchema,
  ConflictStrategy,
  CrashPoint,
  SyncMode,
  type ClientRequest,
  DocumentSchema,
  type Configure,
} from "../../gen/ts/pocket/conformance/v1/control_pb.js";
import { CheckpointSchema, type Filter } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import {
  createDatabase,
  createSyncEngine,
  type ConflictStrategy as EngineStrategy,
  type Database,
  type JsonObject,
  type PendingChange,
  type SyncCollection,
  type SyncEngine,
  type SyncFilter,
  type SyncFilterValue,
  type SyncStats,
  type SyncStatus,
  type SyncStore,
} from "../../client/src/node.js";

type Result = MessageInitShape<typeof ClientResponseSchema>["result"];

const BUG = process.env.POCKET_ADAPTER_BUG ?? "";
const IMPLEMENTATION = "pocket-ts-client (reference, via conformance/adapters/ts-client.ts)";
const SUITES = ["push", "pull", "resume", "retry", "conflict-report", "conflict-resolved", "offline", "tombstones", "subscribe", "convergence", "every-collection", "filters"];
const STRATEGIES: Partial<Record<ConflictStrategy, EngineStrategy>> = {
  [ConflictStrategy.LOCAL_WINS]: "client-wins",
  [ConflictStrategy.REMOTE_WINS]: "server-wins",
  [ConflictStrategy.LAST_WRITE_WINS]: "last-write-wins",
  [ConflictStrategy.MERGE]: "merge",
};
const RESERVED = new Set(["_id", "_rev", "_deleted"]);

// stdout carries frames only.
console.log = console.error;
console.info = console.error;
console.warn = console.error;
const log = (line: string) => process.stderr.write(`ts-client: ${line}\n`);

class CommandFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

class Replica {
  private online = false;
  private status: SyncStatus = "idle";
  private stats: SyncStats = { pushCount: 0, pullCount: 0, conflictCount: 0, lastSyncAt: null };
  private lastError = "";
  /** Documents this adapter wrote locally (the echo bug leaves them alone). */
  private readonly written = new Set<string>();

  private constructor(
    readonly db: Database,
    private readonly engine: SyncEngine,
    private readonly store: SyncStore,
    private readonly collections: readonly string[],
    readonly mode: SyncMode,
  ) {
    engine.getStatus().subscribe((s) => (this.status = s));
    engine.getStats().subscribe((s) => (this.stats = s));
    engine.errors$.subscribe((e) => {
      this.lastError = `${e.kind}${e.documentId ? ` ${e.collection}/${e.documentId}` : ""}: ${e.error.message}`;
      // Chained and awaited by sync_now, so the bug bites before the next sync
      // could quietly push the change again.
      if (BUG === "no-retry" && e.kind === "push") this.givingUp = this.givingUp.then(() => this.giveUp());
    });
    if (BUG === "echo") {
      db.changes().subscribe((e) => {
        if (!e.isFromSync || e.document === null || e.document._deleted || this.written.has(`${e.collection}/${e.documentId}`)) return;
        void db.collection(e.collection).update(e.documentId, strip(e.document)).catch(() => undefined);
      });
    }
  }

  static async open(c: Configure): Promise<Replica> {
    if (!c.dataDir) throw new CommandFailure("invalid_argument", "configure needs a data_dir");
    // No collections: every collection the token may read (PROTOCOL §4.8).
    if (c.syncMode !== SyncMode.UNSPECIFIED && c.syncMode !== SyncMode.PULL && c.syncMode !== SyncMode.SUBSCRIBE) {
      throw new CommandFailure("unimplemented", `sync mode ${c.syncMode}`);
    }
    let strategy: EngineStrategy | undefined;
    if (c.conflictStrategy !== ConflictStrategy.UNSPECIFIED) {
      strategy = STRATEGIES[c.conflictStrategy];
      if (!strategy) throw new CommandFailure("unimplemented", `conflict strategy ${c.conflictStrategy}`);
    }
    const collections = syncCollections(c);
    mkdirSync(c.dataDir, { recursive: true });
    const db = await createDatabase({ name: join(c.dataDir, "pocket-db"), storage: "level" });
    const own: SyncStore =
      BUG === "no-checkpoint"
        ? { ...db.syncStore, outboxChanged: db.syncStore.outboxChanged, getCheckpoint: async () => undefined }
        : db.syncStore;
    const store: SyncStore = {
      ...own,
      outboxChanged: own.outboxChanged,
      applyRemoteChanges: async (...args) => {
        await own.applyRemoteChanges(...args);
        if (crashArmed) process.kill(process.pid, "SIGKILL"); // the page is durable: die as under kill -9
      },
    };
    const mode = c.syncMode === SyncMode.SUBSCRIBE ? SyncMode.SUBSCRIBE : SyncMode.PULL;
    const config: Parameters<typeof createSyncEngine>[1] = {
      serverUrl: c.serverUrl,
      authToken: c.token,
      collections,
      direction: "both",
      // Pull mode: sync_now pulls; the engine's own poll only runs at start and after forceSync.
      useWebSocket: mode === SyncMode.SUBSCRIBE,
      pullInterval: 24 * 3600_000,
      heartbeatInterval: 5_000,
      ...(strategy ? { conflictStrategy: strategy } : {}),
      autoRetry: BUG !== "no-retry",
      retryDelay: 100,
      maxRetryDelay: 2_000,
      maxRetryAttempts: 6,
      transport: "connect",
    };
    let engine: SyncEngine;
    try {
      engine = createSyncEngine(store, config);
    } catch (error) {
      // The engine checks its options when created: a bad filter is the runner's invalid argument.
      await db.close();
      if (error instanceof TypeError) throw new CommandFailure("invalid_argument", error.message);
      throw error;
    }
    const replica = new Replica(db, engine, store, c.collections, mode);
    if (!c.startOffline) await replica.setOnline(true);
    return replica;
  }

  async setOnline(online: boolean): Promise<void> {
    if (online === this.online) return;
    this.online = online;
    if (online) await this.engine.start();
    else await this.stopEngine();
  }

  /** The suite must see a client that waits for nothing: stop() is awaited whole. */
  private async stopEngine(): Promise<void> {
    await this.engine.stop();
  }

  async write(collection: string, id: string, text: string): Promise<void> {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new CommandFailure("invalid_argument", `not JSON: ${String(error)}`);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new CommandFailure("invalid_argument", "a document must be a JSON object");
    const fields = strip(value as JsonObject);
    const docs = this.db.collection(collection);
    this.written.add(`${collection}/${id}`);
    const current = await docs.get(id);
    if (current === null) {
      await docs.insert({ ...fields, _id: id });
      return;
    }
    // A full replacement: keys the new state drops are set to undefined (removed).
    const patch: Record<string, unknown> = { ...fields };
    for (const key of Object.keys(current)) if (!RESERVED.has(key) && !(key in fields)) patch[key] = undefined;
    await docs.update(id, patch as Partial<JsonObject>);
  }

  async delete(collection: string, id: string): Promise<void> {
    this.written.add(`${collection}/${id}`);
    await this.db.collection(collection).delete(id);
  }

  private async pending(): Promise<Map<string, PendingChange>> {
    const list = await this.store.pendingChanges(this.collections, Number.MAX_SAFE_INTEGER);
    return new Map(list.map((p) => [`${p.collection}/${p.documentId}`, p]));
  }

  async read(collection: string, id: string): Promise<MessageInitShape<typeof DocumentSchema>[]> {
    const pending = await this.pending();
    const docs = this.db.collection(collection);
    const out: MessageInitShape<typeof DocumentSchema>[] = [];
    const describe = (docId: string, doc: JsonObject | null, rev: string) => {
      const p = pending.get(`${collection}/${docId}`);
      out.push({
        collection,
        documentId: docId,
        document: doc === null ? "" : JSON.stringify(strip(doc)),
        // The revision last received from the server: the base of a pending change.
        revision: p ? p.baseRevision : rev.startsWith("local-") ? "" : rev,
        deleted: doc === null,
        pending: p !== undefined,
      });
    };
    if (id) {
      const doc = await docs.get(id);
      if (doc) describe(id, doc, doc._rev);
      else {
        const p = pending.get(`${collection}/${id}`);
        if (p && p.document === null) describe(id, null, p.baseRevision); // a local tombstone not yet pushed
      }
    } else {
      for (const doc of await docs.find({}, { sort: { field: "_id" } })) describe(doc._id, doc, doc._rev);
    }
    return out;
  }

  async syncNow(): Promise<{ pushed: number; pulled: number; conflicts: number }> {
    if (!this.online && BUG !== "sync-offline") throw new CommandFailure("unavailable", "offline");
    await this.givingUp;
    const before = this.stats;
    try {
      await this.engine.forceSync();
    } catch (error) {
      await this.givingUp;
      const e = error as { code?: number; message?: string };
      this.lastError = e.message ?? String(error);
      throw new CommandFailure(codeName(e.code), e.message ?? String(error));
    }
    const after = this.stats;
    return {
      pushed: after.pushCount - before.pushCount,
      pulled: after.pullCount - before.pullCount,
      conflicts: after.conflictCount - before.conflictCount,
    };
  }

  async getStatus(): Promise<MessageInitShape<typeof ClientResponseSchema>["result"]> {
    const bytes = await this.store.getCheckpoint();
    return {
      case: "getStatus",
      value: {
        clientId: this.db.clientId,
        online: this.online,
        pendingChanges: await this.store.pendingCount(this.collections),
        checkpoint: bytes ? fromBinary(CheckpointSchema, bytes) : create(CheckpointSchema),
        subscribed: this.online && this.mode === SyncMode.SUBSCRIBE && this.status === "idle",
        lastError: this.lastError,
      },
    };
  }

  /** The no-retry bug: every pending change is given up after a failed push. */
  private givingUp: Promise<void> = Promise.resolve();

  private async giveUp(): Promise<void> {
    for (const p of (await this.pending()).values()) await this.store.reject(p).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.online) await this.stopEngine();
    this.engine.destroy();
    await this.db.close();
  }
}

/** Configure's collections and filters as the engine's `collections` option. */
function syncCollections(c: Configure): SyncCollection[] {
  const orphans = Object.keys(c.filters).filter((name) => !c.collections.includes(name));
  if (c.collections.length > 0 && orphans.length) {
    throw new CommandFailure("invalid_argument", `filters on collections not in collections: ${orphans.join(", ")}`);
  }
  if (BUG === "no-filter") return [...c.collections];
  // No collection named: every one the token may read ("*"), the filtered ones filtered (PROTOCOL §4.8, §4.10).
  const named = c.collections.length > 0 ? c.collections : Object.keys(c.filters);
  const entries: SyncCollection[] = named.map((name) => {
    const filter = c.filters[name];
    return filter ? { name, filter: engineFilter(name, filter) } : name;
  });
  return c.collections.length > 0 ? entries : ["*", ...entries];
}

function engineFilter(collection: string, filter: Filter): SyncFilter {
  const out: Record<string, SyncFilterValue | SyncFilterValue[]> = {};
  for (const { field, values } of filter.conditions) {
    const parsed = values.map((text) => {
      try {
        return JSON.parse(text) as SyncFilterValue;
      } catch {
        throw new CommandFailure("invalid_argument", `filters[${collection}]: ${field}: ${JSON.stringify(text)} is not JSON text`);
      }
    });
    out[field] = parsed.length === 1 ? parsed[0]! : parsed;
  }
  return out;
}

function strip(doc: object): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(doc)) if (!RESERVED.has(k)) out[k] = v as JsonObject[string];
  return out;
}

/** Connect code numbers to their names (the control protocol's Error.code). */
const CODE_NAMES = [
  "ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists", "permission_denied",
  "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated",
];
function codeName(code: number | undefined): string {
  return (code !== undefined && CODE_NAMES[code]) || "unknown";
}

// ---------------------------------------------------------------- control loop

let replica: Replica | undefined;
/** Crash: die right after the next page the engine stores. */
let crashArmed = false;

async function handle(request: ClientRequest): Promise<{ result: Result; exit?: boolean }> {
  const command = request.command;
  if (command.case === "configure") {
    if (replica) throw new CommandFailure("failed_precondition", "already configured");
    replica = await Replica.open(command.value);
    return {
      result: {
        case: "configure",
        value: {
          implementation: IMPLEMENTATION,
          clientId: replica.db.clientId,
          suites: SUITES,
          conflictStrategies: [ConflictStrategy.LOCAL_WINS, ConflictStrategy.REMOTE_WINS, ConflictStrategy.LAST_WRITE_WINS, ConflictStrategy.MERGE],
          syncModes: [SyncMode.PULL, SyncMode.SUBSCRIBE],
        },
      },
    };
  }
  if (command.case === "shutdown") {
    await replica?.close();
    replica = undefined;
    return { result: { case: "shutdown", value: {} }, exit: true };
  }
  const r = replica;
  if (!r) throw new CommandFailure("failed_precondition", "configure first");
  switch (command.case) {
    case "writeDocument":
      await r.write(command.value.collection, command.value.documentId, command.value.document);
      return { result: { case: "writeDocument", value: {} } };
    case "deleteDocument":
      await r.delete(command.value.collection, command.value.documentId);
      return { result: { case: "deleteDocument", value: {} } };
    case "readDocuments":
      return { result: { case: "readDocuments", value: { documents: await r.read(command.value.collection, command.value.documentId) } } };
    case "syncNow":
      return { result: { case: "syncNow", value: await r.syncNow() } };
    case "setOnline":
      await r.setOnline(command.value.online);
      return { result: { case: "setOnline", value: {} } };
    case "getStatus":
      return { result: await r.getStatus() };
    case "crash":
      if (command.value.point !== CrashPoint.AFTER_FIRST_WRITE_OF_PAGE) throw new CommandFailure("unimplemented", `crash point ${command.value.point}`);
      crashArmed = true;
      return { result: { case: "crash", value: {} } };
    default:
      throw new CommandFailure("unimplemented", `unknown command ${command.case ?? "(none)"}`);
  }
}

function send(requestId: bigint, result: Result): Promise<void> {
  const bytes = toBinary(ClientResponseSchema, create(ClientResponseSchema, { requestId, result }));
  const out = Buffer.alloc(4 + bytes.length);
  out.writeUInt32BE(bytes.length, 0);
  out.set(bytes, 4);
  return new Promise((resolve) => process.stdout.write(out, () => resolve()));
}

let buffer = Buffer.alloc(0);
let queue: Promise<void> = Promise.resolve();

process.stdin.on("data", (chunk: Buffer) => {
  buffer = Buffer.concat([buffer, chunk]);
  while (buffer.length >= 4) {
    const length = buffer.readUInt32BE(0);
    if (buffer.length < 4 + length) break;
    const request = fromBinaryRequest(buffer.subarray(4, 4 + length));
    buffer = buffer.subarray(4 + length);
    // One command at a time, in order.
    queue = queue.then(async () => {
      let answer: { result: Result; exit?: boolean };
      try {
        answer = await handle(request);
      } catch (error) {
        const code = error instanceof CommandFailure ? error.code : "internal";
        const message = error instanceof Error ? error.message : String(error);
        if (!(error instanceof CommandFailure)) log(`${request.command.case}: ${error instanceof Error ? (error.stack ?? message) : message}`);
        answer = { result: { case: "error", value: { code, message } } };
      }
      await send(request.requestId, answer.result);
      if (answer.exit) process.exit(0);
    });
  }
});

process.stdin.on("end", () => {
  queue = queue.then(async () => {
    await replica?.close().catch(() => undefined);
    process.exit(0);
  });
});

function fromBinaryRequest(bytes: Uint8Array): ClientRequest {
  return fromBinary(ClientRequestSchema, new Uint8Array(bytes));
}
