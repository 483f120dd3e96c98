// The local database: collections of JSON documents on any abstract-level
// store (LevelDB in Node, IndexedDB in browsers, memory), with a change feed,
// live queries and, when sync is on, an outbox written in the same batch as
// every local write. It implements the engine's SyncStore (../store.ts).
import { Observable, Subject, filter as rxFilter } from "rxjs";
import {
  COLLECTION_NAME,
  DOCUMENT_ID,
  HybridLogicalClock,
  MAX_DOCUMENT_DEPTH,
  RESERVED_KEYS,
  jsonEqual,
  nestingExceeds,
  stringifyJson,
  type JsonObject,
  type JsonValue,
  type Timestamp,
} from "../../../common/src/index.js";
import type { ApplyOptions, PendingChange, RemoteChange, SyncStore } from "../store.js";
import { openStorage, type LevelLike, type StorageOption } from "./storage.js";
import type { ChangeEvent, ChangeOperation, Doc, Filter, FindOptions, NewDoc } from "./types.js";

export interface DatabaseOptions {
  /** The database name: a directory (LevelDB) or an IndexedDB name (browsers). */
  readonly name: string;
  /** "level" (default: LevelDB in Node, IndexedDB in browsers), "memory", or an open-able abstract-level instance. */
  readonly storage?: StorageOption;
  /**
   * Sync on (default): every local write also goes to the outbox and deletes are
   * soft (a tombstone is kept until the server has it). Off: no outbox, deletes
   * remove the document.
   */
  readonly sync?: boolean;
  /** Wall clock for the hybrid logical clock (tests). */
  readonly wallClock?: () => number;
}

// Schema limits (docs/PROTOCOL.md §14), checked at write time so that a
// change the server would refuse whole never reaches the outbox.
const MAX_DOCUMENT_BYTES = 1024 * 1024;

interface ServerState {
  rev: string;
  seq: string; // bigint as decimal
  doc: JsonObject | null;
  ts: [string, number];
  by: string;
}

/** How one document is stored. */
interface DocRecord {
  /** The local state; null for a tombstone. */
  doc: JsonObject | null;
  rev: string;
  /** Timestamp and author of the local state. */
  ts: [string, number];
  by: string;
  /** The client sequence of the pending outbox entry, if any. */
  pending?: string;
  /** The server revision the pending change is based on (equals server.rev when nothing is pending). */
  base: string;
  /** The server document at `base`, when known. */
  baseDoc?: JsonObject | null;
  /** The latest server state known. */
  server?: ServerState;
}

interface OutboxEntry {
  c: string;
  i: string;
}

const DOC_PREFIX = "d/";
const OUTBOX_PREFIX = "o/";
const META = {
  clientId: "m/clientId",
  clientSeq: "m/clientSeq",
  changeSeq: "m/changeSeq",
  hlc: "m/hlc",
  checkpoint: "m/checkpoint",
} as const;

const docKey = (collection: string, id: string) => `${DOC_PREFIX}${collection}/${id}`;
const collectionRange = (collection: string) => ({ gte: `${DOC_PREFIX}${collection}/`, lt: `${DOC_PREFIX}${collection}0` });
const outboxKey = (seq: bigint) => `${OUTBOX_PREFIX}${seq.toString().padStart(20, "0")}`;

type BatchOp = { type: "put"; key: string; value: string } | { type: "del"; key: string };

function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buf);
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
}

const encodeTs = (t: Timestamp): [string, number] => [t.wallTimeMs.toString(), t.logical];
const decodeTs = (t: [string, number]): Timestamp => ({ wallTimeMs: BigInt(t[0]), logical: t[1] });

/** Copies a document without reserved keys, as plain JSON (undefined fields dropped). */
function cleanDocument(value: object, what: string): JsonObject {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new TypeError(`${what} must be a plain object`);
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (!RESERVED_KEYS.has(k)) fields[k] = v;
  const text = stringifyJson(fields as JsonObject); // iterative: any depth gets the clear error below
  if (new TextEncoder().encode(text).length > MAX_DOCUMENT_BYTES) throw new RangeError(`${what} is larger than 1 MiB`);
  if (nestingExceeds(text, MAX_DOCUMENT_DEPTH)) throw new RangeError(`${what} nests objects and arrays more than ${MAX_DOCUMENT_DEPTH} levels deep`);
  return JSON.parse(text) as JsonObject;
}

function checkId(id: unknown): string {
  if (typeof id !== "string" || !DOCUMENT_ID.test(id)) throw new TypeError(`invalid document id ${JSON.stringify(id)}: must match ${DOCUMENT_ID}`);
  return id;
}

function toDoc<T extends object>(id: string, record: DocRecord): Doc<T> | null {
  if (record.doc === null) return null;
  return { ...(record.doc as object), _id: id, _rev: record.rev } as Doc<T>;
}

function tombstone<T extends object>(id: string, rev: string): Doc<T> {
  return { _id: id, _rev: rev, _deleted: true } as unknown as Doc<T>;
}

function newerServer(a: ServerState | undefined, b: ServerState): ServerState {
  return a && BigInt(a.seq) > BigInt(b.seq) ? a : b;
}

function serverStateOf(change: RemoteChange): ServerState {
  return {
    rev: change.revision,
    seq: change.serverSequence.toString(),
    doc: change.document,
    ts: encodeTs(change.timestamp),
    by: change.clientId,
  };
}

function bytesToBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function base64ToBytes(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * In a browser, two tabs opening one IndexedDB database would share its client
 * id while counting client sequences apart, and their pushes would collide
 * (PROTOCOL §9.1). A Web Lock per database name keeps it to one tab; Node's
 * LevelDB already refuses a second opener with its own lock file.
 */
async function holdExclusively(name: string): Promise<(() => void) | undefined> {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (!locks) return undefined;
  return new Promise((resolve, reject) => {
    locks
      .request(`pocket-sync:database:${name}`, { ifAvailable: true }, (lock) => {
        if (!lock) {
          reject(new Error(`database "${name}" is already open in another tab or window; give each tab its own name, or close it there first`));
          return undefined;
        }
        return new Promise<void>((release) => resolve(release));
      })
      .catch(reject);
  });
}

export async function createDatabase(options: DatabaseOptions): Promise<Database> {
  const storage = options.storage ?? "level";
  const release = storage === "level" ? await holdExclusively(options.name) : undefined;
  const level = openStorage(options.name, storage);
  try {
    await level.open();
  } catch (error) {
    release?.();
    throw error;
  }
  const read = async (key: string) => (await level.get(key)) ?? undefined;
  let clientId = await read(META.clientId);
  if (clientId === undefined) {
    clientId = randomHex(16);
    await level.put(META.clientId, clientId);
  }
  const hlcText = await read(META.hlc);
  const hlc = new HybridLogicalClock(options.wallClock ?? Date.now, hlcText ? decodeTs(JSON.parse(hlcText) as [string, number]) : undefined);
  const clientSeq = BigInt((await read(META.clientSeq)) ?? "0");
  const changeSeq = Number((await read(META.changeSeq)) ?? "0");
  return new Database(options, level, clientId, hlc, clientSeq, changeSeq, release);
}

export class Database {
  readonly name: string;
  readonly syncEnabled: boolean;
  /** The engine-facing side of the database (see ../store.ts). */
  readonly syncStore: SyncStore;
  private readonly feed = new Subject<ChangeEvent>();
  private readonly outbox = new Subject<void>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly collections = new Map<string, Collection>();
  private closed = false;

  /** @internal Use createDatabase. */
  constructor(
    options: DatabaseOptions,
    private readonly level: LevelLike,
    readonly clientId: string,
    private readonly hlc: HybridLogicalClock,
    private clientSeq: bigint,
    private changeSeq: number,
    private readonly releaseLock: (() => void) | undefined = undefined,
  ) {
    this.name = options.name;
    this.syncEnabled = options.sync ?? true;
    this.syncStore = this.makeSyncStore();
  }

  collection<T extends object = JsonObject>(name: string): Collection<T> {
    if (!COLLECTION_NAME.test(name)) throw new TypeError(`invalid collection name ${JSON.stringify(name)}: must match ${COLLECTION_NAME}`);
    let c = this.collections.get(name);
    if (!c) {
      c = new Collection(this, name);
      this.collections.set(name, c);
    }
    return c as unknown as Collection<T>;
  }

  /** Every change to every collection, local and remote. */
  changes(): Observable<ChangeEvent> {
    return this.feed.asObservable();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    this.feed.complete();
    this.outbox.complete();
    await this.level.close();
    this.releaseLock?.();
  }

  // ---- internals shared with Collection ----

  /** Runs `fn` after every earlier write, one at a time. */
  /** @internal */ serial<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.queue.then(() => {
      if (this.closed) throw new Error(`database ${this.name} is closed`);
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** @internal */ async record(collection: string, id: string): Promise<DocRecord | undefined> {
    const text = await this.level.get(docKey(collection, id));
    return text === undefined || text === null ? undefined : (JSON.parse(text) as DocRecord);
  }

  /** @internal */ async *records(collection: string): AsyncGenerator<[string, DocRecord]> {
    const prefix = `${DOC_PREFIX}${collection}/`;
    for await (const [key, value] of this.level.iterator(collectionRange(collection))) {
      yield [key.slice(prefix.length), JSON.parse(value) as DocRecord];
    }
  }

  private event(
    collection: string,
    operation: ChangeOperation,
    id: string,
    document: Doc | null,
    previousDocument: Doc | null,
    ts: Timestamp,
    isFromSync: boolean,
  ): ChangeEvent {
    return { collection, operation, documentId: id, document, previousDocument, timestamp: Number(ts.wallTimeMs), sequence: ++this.changeSeq, isFromSync };
  }

  private metaOps(): BatchOp[] {
    return [
      { type: "put", key: META.changeSeq, value: String(this.changeSeq) },
      { type: "put", key: META.hlc, value: JSON.stringify(encodeTs(this.hlc.current())) },
    ];
  }

  private async commit(ops: BatchOp[], events: ChangeEvent[], outboxChanged = false): Promise<void> {
    await this.level.batch([...ops, ...this.metaOps()]);
    for (const e of events) this.feed.next(e);
    if (outboxChanged) this.outbox.next();
  }

  /** @internal A local write: document (null = delete) and outbox entry in one batch. */
  async writeLocal(collection: string, id: string, next: JsonObject | null, mode: "insert" | "update" | "delete"): Promise<{ before: DocRecord | undefined; after: DocRecord | undefined }> {
    const before = await this.record(collection, id);
    const live = before !== undefined && before.doc !== null;
    if (mode === "insert" && live) throw new Error(`document ${collection}/${id} already exists`);
    if ((mode === "update" || mode === "delete") && !live) return { before, after: undefined };
    const ts = this.hlc.now();
    const ops: BatchOp[] = [];
    const previous = before ? toDoc(id, before) : null;
    const sequence = this.changeSeq + 1;
    let after: DocRecord | undefined;
    if (!this.syncEnabled) {
      if (next === null) ops.push({ type: "del", key: docKey(collection, id) });
      else {
        after = { doc: next, rev: `local-${sequence}`, ts: encodeTs(ts), by: this.clientId, base: "" };
        ops.push({ type: "put", key: docKey(collection, id), value: JSON.stringify(after) });
      }
    } else {
      const seq = ++this.clientSeq;
      after = {
        doc: next,
        rev: `local-${sequence}`,
        ts: encodeTs(ts),
        by: this.clientId,
        pending: seq.toString(),
        base: before?.pending !== undefined ? before.base : (before?.server?.rev ?? ""),
        ...(before?.pending !== undefined
          ? before.baseDoc !== undefined ? { baseDoc: before.baseDoc } : {}
          : before?.server ? { baseDoc: before.server.doc } : {}),
        ...(before?.server ? { server: before.server } : {}),
      };
      if (before?.pending !== undefined) ops.push({ type: "del", key: outboxKey(BigInt(before.pending)) });
      ops.push({ type: "put", key: outboxKey(seq), value: JSON.stringify({ c: collection, i: id } satisfies OutboxEntry) });
      ops.push({ type: "put", key: docKey(collection, id), value: JSON.stringify(after) });
      ops.push({ type: "put", key: META.clientSeq, value: seq.toString() });
    }
    const document = after && after.doc !== null ? toDoc(id, after) : tombstone(id, `local-${sequence}`);
    const operation: ChangeOperation = next === null ? "delete" : live ? "update" : "insert";
    const event = this.event(collection, operation, id, document, previous, ts, false);
    await this.commit(ops, [event], this.syncEnabled);
    return { before, after };
  }

  // ---- SyncStore ----

  private makeSyncStore(): SyncStore {
    return {
      clientId: async () => this.clientId,
      outboxChanged: this.outbox.asObservable(),
      pendingChanges: (collections, limit) => this.pendingChanges(collections, limit),
      pendingCount: async (collections) => (await this.pendingChanges(collections, Number.MAX_SAFE_INTEGER)).length,
      acknowledge: (change, accepted) => this.serial(() => this.acknowledge(change, accepted)),
      adoptServerState: (change, current) => this.serial(() => this.adopt(change, serverStateOf(current))),
      rebase: (change, current, document) => this.serial(() => this.rebase(change, current, document)),
      reject: (change) => this.serial(() => this.reject(change)),
      applyRemoteChanges: (changes, checkpoint, options) => this.serial(() => this.applyRemote(changes, checkpoint, options ?? {})),
      finishResync: (collections, seen, checkpoint) => this.serial(() => this.finishResync(collections, seen, checkpoint)),
      getCheckpoint: async () => {
        const text = await this.level.get(META.checkpoint);
        return text === undefined || text === null ? undefined : base64ToBytes(text);
      },
    };
  }

  private async pendingChanges(collections: readonly string[], limit: number): Promise<PendingChange[]> {
    const wanted = new Set(collections);
    const out: PendingChange[] = [];
    for await (const [key, value] of this.level.iterator({ gte: OUTBOX_PREFIX, lt: "o0" })) {
      if (out.length >= limit) break;
      const entry = JSON.parse(value) as OutboxEntry;
      if (!wanted.has(entry.c)) continue;
      const seq = BigInt(key.slice(OUTBOX_PREFIX.length));
      const record = await this.record(entry.c, entry.i);
      if (!record || record.pending !== seq.toString()) continue;
      out.push({
        collection: entry.c,
        documentId: entry.i,
        clientSequence: seq,
        document: record.doc,
        baseRevision: record.base,
        ...(record.baseDoc !== undefined ? { baseDocument: record.baseDoc } : {}),
        timestamp: decodeTs(record.ts),
      });
    }
    return out;
  }

  /** Replaces the local state with a server state, dropping the pending change. */
  private adoptOps(collection: string, id: string, record: DocRecord, state: ServerState, events: ChangeEvent[]): BatchOp[] {
    const ops: BatchOp[] = [];
    if (record.pending !== undefined) ops.push({ type: "del", key: outboxKey(BigInt(record.pending)) });
    const next: DocRecord = { doc: state.doc, rev: state.rev, ts: state.ts, by: state.by, base: state.rev, baseDoc: state.doc, server: state };
    ops.push({ type: "put", key: docKey(collection, id), value: JSON.stringify(next) });
    this.pushEvent(collection, id, record, next, events);
    return ops;
  }

  private pushEvent(collection: string, id: string, before: DocRecord | undefined, after: DocRecord | undefined, events: ChangeEvent[]): void {
    const prev = before ? toDoc(id, before) : null;
    const next = after ? toDoc(id, after) : null;
    if (prev === null && next === null) return;
    if (prev !== null && next !== null && prev._rev === next._rev && jsonEqual(before!.doc, after!.doc)) return;
    const ts = after ? decodeTs(after.ts) : this.hlc.current();
    if (next === null) events.push(this.event(collection, "delete", id, tombstone(id, after?.rev ?? prev!._rev), prev, ts, true));
    else events.push(this.event(collection, prev === null ? "insert" : "update", id, next, prev, ts, true));
  }

  private async acknowledge(change: PendingChange, accepted: { revision: string; serverSequence: bigint }): Promise<void> {
    const { collection, documentId: id } = change;
    const record = await this.record(collection, id);
    if (!record) return;
    const mine = record.pending === change.clientSequence.toString();
    const events: ChangeEvent[] = [];
    let ops: BatchOp[];
    if (record.server && BigInt(record.server.seq) > accepted.serverSequence) {
      // A later server state already arrived (it was held back while this change was pending).
      if (mine) ops = this.adoptOps(collection, id, record, record.server, events);
      else ops = [{ type: "put", key: docKey(collection, id), value: JSON.stringify({ ...record, base: accepted.revision, baseDoc: change.document }) }];
    } else {
      const server: ServerState = {
        rev: accepted.revision,
        seq: accepted.serverSequence.toString(),
        doc: change.document,
        ts: encodeTs(change.timestamp),
        by: this.clientId,
      };
      if (mine) ops = this.adoptOps(collection, id, record, server, events);
      else ops = [{ type: "put", key: docKey(collection, id), value: JSON.stringify({ ...record, base: accepted.revision, baseDoc: change.document, server }) }];
    }
    await this.commit(ops, events);
  }

  private async adopt(change: PendingChange, current: ServerState): Promise<void> {
    const { collection, documentId: id } = change;
    const record = await this.record(collection, id);
    if (!record) return;
    const state = newerServer(record.server, current);
    this.hlc.observe(decodeTs(state.ts));
    const events: ChangeEvent[] = [];
    const ops =
      record.pending === change.clientSequence.toString()
        ? this.adoptOps(collection, id, record, state, events)
        : [{ type: "put" as const, key: docKey(collection, id), value: JSON.stringify({ ...record, server: state }) }];
    await this.commit(ops, events);
  }

  private async rebase(change: PendingChange, current: RemoteChange, document: JsonObject | null): Promise<boolean> {
    const { collection, documentId: id } = change;
    const record = await this.record(collection, id);
    if (!record) return false;
    const server = newerServer(record.server, serverStateOf(current));
    this.hlc.observe(current.timestamp);
    if (record.pending !== change.clientSequence.toString()) {
      await this.commit([{ type: "put", key: docKey(collection, id), value: JSON.stringify({ ...record, server }) }], []);
      return false;
    }
    const seq = ++this.clientSeq;
    const ts = this.hlc.now();
    const next: DocRecord = {
      doc: document === null ? null : cleanDocument(document, "resolved document"),
      rev: `local-${this.changeSeq + 1}`,
      ts: encodeTs(ts),
      by: this.clientId,
      pending: seq.toString(),
      base: current.revision,
      baseDoc: current.document,
      server,
    };
    const events: ChangeEvent[] = [];
    if (!jsonEqual(record.doc, next.doc)) this.pushEvent(collection, id, record, next, events);
    else next.rev = record.rev;
    await this.commit(
      [
        { type: "del", key: outboxKey(BigInt(record.pending)) },
        { type: "put", key: outboxKey(seq), value: JSON.stringify({ c: collection, i: id } satisfies OutboxEntry) },
        { type: "put", key: docKey(collection, id), value: JSON.stringify(next) },
        { type: "put", key: META.clientSeq, value: seq.toString() },
      ],
      events,
      true,
    );
    return true;
  }

  private async reject(change: PendingChange): Promise<void> {
    const { collection, documentId: id } = change;
    const record = await this.record(collection, id);
    if (!record || record.pending !== change.clientSequence.toString()) return;
    const events: ChangeEvent[] = [];
    if (record.server) {
      await this.commit(this.adoptOps(collection, id, record, record.server, events), events);
      return;
    }
    this.pushEvent(collection, id, record, undefined, events);
    await this.commit(
      [
        { type: "del", key: outboxKey(BigInt(record.pending)) },
        { type: "del", key: docKey(collection, id) },
      ],
      events,
    );
  }

  private async applyRemote(changes: readonly RemoteChange[], checkpoint: Uint8Array | undefined, options: ApplyOptions): Promise<void> {
    const ops: BatchOp[] = [];
    const events: ChangeEvent[] = [];
    const staged = new Map<string, DocRecord | undefined>();
    for (const change of changes) {
      const key = docKey(change.collection, change.documentId);
      const record = staged.has(key) ? staged.get(key) : await this.record(change.collection, change.documentId);
      this.hlc.observe(change.timestamp);
      const known = record?.server;
      if (known && (known.rev === change.revision || (!options.resync && BigInt(known.seq) >= change.serverSequence))) continue;
      const server = serverStateOf(change);
      let next: DocRecord;
      if (record?.pending !== undefined) {
        next = { ...record, server }; // §9.5: keep the local state and its base revision
      } else if (record && record.rev === change.revision) {
        next = { ...record, server };
      } else {
        next = { doc: change.document, rev: change.revision, ts: server.ts, by: change.clientId, base: change.revision, baseDoc: change.document, server };
        this.pushEvent(change.collection, change.documentId, record, next, events);
      }
      staged.set(key, next);
      ops.push({ type: "put", key, value: JSON.stringify(next) });
    }
    if (checkpoint) ops.push({ type: "put", key: META.checkpoint, value: bytesToBase64(checkpoint) });
    await this.commit(ops, events);
  }

  private async finishResync(collections: readonly string[], seen: ReadonlyMap<string, ReadonlySet<string>>, checkpoint: Uint8Array): Promise<void> {
    const ops: BatchOp[] = [];
    const events: ChangeEvent[] = [];
    for (const collection of collections) {
      const ids = seen.get(collection);
      for await (const [id, record] of this.records(collection)) {
        if (record.pending !== undefined || ids?.has(id)) continue;
        ops.push({ type: "del", key: docKey(collection, id) });
        this.pushEvent(collection, id, record, undefined, events);
      }
    }
    ops.push({ type: "put", key: META.checkpoint, value: bytesToBase64(checkpoint) });
    await this.commit(ops, events);
  }
}

/** Documents of one collection. */
export class Collection<T extends object = JsonObject> {
  constructor(
    private readonly db: Database,
    readonly name: string,
  ) {}

  /** Inserts a document (a random `_id` unless given) and returns it as stored. */
  async insert(document: NewDoc<T>): Promise<Doc<T>> {
    const id = checkId(document._id ?? randomHex(12));
    const fields = cleanDocument(document, "document");
    return this.db.serial(async () => {
      const { after } = await this.db.writeLocal(this.name, id, fields, "insert");
      return toDoc<T>(id, after ?? { doc: fields, rev: "", ts: ["0", 0], by: "", base: "" })!;
    });
  }

  /** Merges `changes` into the top-level fields (a field set to undefined is removed). Returns null if there is no such document. */
  async update(id: string, changes: Partial<T>): Promise<Doc<T> | null> {
    checkId(id);
    const patch = { ...(changes as object) } as Record<string, unknown>;
    return this.db.serial(async () => {
      const current = await this.db.record(this.name, id);
      if (!current || current.doc === null) return null;
      const merged: Record<string, unknown> = { ...current.doc };
      for (const [k, v] of Object.entries(patch)) {
        if (RESERVED_KEYS.has(k)) continue;
        if (v === undefined) delete merged[k];
        else merged[k] = v;
      }
      const { after } = await this.db.writeLocal(this.name, id, cleanDocument(merged, "document"), "update");
      return after ? toDoc<T>(id, after) : null;
    });
  }

  /** Deletes a document: a tombstone with sync on, a removal without. Returns false if there was none. */
  async delete(id: string): Promise<boolean> {
    checkId(id);
    return this.db.serial(async () => {
      const { before } = await this.db.writeLocal(this.name, id, null, "delete");
      return before !== undefined && before.doc !== null;
    });
  }

  async get(id: string): Promise<Doc<T> | null> {
    const record = await this.db.record(this.name, id);
    return record ? toDoc<T>(id, record) : null;
  }

  /** A query: await it (or call exec) for the documents, or subscribe to `$` for live results. */
  find(filter: Filter = {}, options: FindOptions = {}): Query<T> {
    return new Query(this, filter, options);
  }

  /** Live results of `find(filter, options)`: emits now and whenever the results change. */
  observe(filter: Filter = {}, options: FindOptions = {}): Observable<Doc<T>[]> {
    return this.find(filter, options).$;
  }

  /**
   * Applies a change that came from the server (the seed's applyRemoteChange):
   * stored, emitted with isFromSync: true, seen by live queries, never pushed
   * back. A document with a pending local change keeps its local state (§9.5).
   * The sync engine applies whole batches through `db.syncStore` instead.
   */
  applyRemoteChange(change: {
    readonly operation: ChangeOperation;
    readonly documentId: string;
    readonly document?: object | null;
    readonly revision: string;
    readonly serverSequence: bigint;
    readonly timestamp?: Timestamp;
    readonly clientId?: string;
  }): Promise<void> {
    const document = change.operation === "delete" || change.document == null ? null : cleanDocument(change.document, "document");
    return this.db.syncStore.applyRemoteChanges(
      [
        {
          collection: this.name,
          documentId: checkId(change.documentId),
          document,
          revision: change.revision,
          serverSequence: change.serverSequence,
          timestamp: change.timestamp ?? { wallTimeMs: BigInt(Date.now()), logical: 0 },
          clientId: change.clientId ?? "",
        },
      ],
      undefined,
    );
  }

  /** Changes to this collection. */
  changes(): Observable<ChangeEvent<T>> {
    return this.db.changes().pipe(rxFilter((e) => e.collection === this.name)) as unknown as Observable<ChangeEvent<T>>;
  }

  /** @internal */ async run(filter: Filter, options: FindOptions): Promise<Doc<T>[]> {
    const out: Doc<T>[] = [];
    const entries = Object.entries(filter);
    for await (const [id, record] of this.db.records(this.name)) {
      const doc = toDoc<T>(id, record);
      if (doc === null) continue;
      const fields = doc as unknown as Record<string, JsonValue>;
      if (entries.every(([k, v]) => jsonEqual(fields[k], v))) out.push(doc);
    }
    const { sort } = options;
    if (sort) {
      const dir = sort.direction === "desc" ? -1 : 1;
      out.sort((a, b) => dir * compareValues((a as Record<string, unknown>)[sort.field], (b as Record<string, unknown>)[sort.field]));
    }
    const skip = options.skip ?? 0;
    return out.slice(skip, options.limit === undefined ? undefined : skip + options.limit);
  }
}

function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === undefined || a === null) return -1;
  if (b === undefined || b === null) return 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  const sa = typeof a === "string" ? a : JSON.stringify(a);
  const sb = typeof b === "string" ? b : JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

export class Query<T extends object = JsonObject> implements PromiseLike<Doc<T>[]> {
  constructor(
    private readonly collection: Collection<T>,
    private readonly filter: Filter,
    private readonly options: FindOptions,
  ) {}

  exec(): Promise<Doc<T>[]> {
    return this.collection.run(this.filter, this.options);
  }

  then<A = Doc<T>[], B = never>(
    onfulfilled?: ((value: Doc<T>[]) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): PromiseLike<A | B> {
    return this.exec().then(onfulfilled, onrejected);
  }

  /**
   * Live results: emits the current results at once, then again after every
   * change to the collection that changes them (compared by value, `_rev` included).
   */
  get $(): Observable<Doc<T>[]> {
    return new Observable<Doc<T>[]>((subscriber) => {
      let last: Doc<T>[] | undefined;
      let running = false;
      let dirty = false;
      let done = false;
      const refresh = async () => {
        if (running) {
          dirty = true;
          return;
        }
        running = true;
        try {
          do {
            dirty = false;
            const results = await this.exec();
            if (done) return;
            if (last === undefined || !jsonEqual(last as unknown as JsonValue, results as unknown as JsonValue)) {
              last = results;
              subscriber.next(results);
            }
          } while (dirty && !done);
        } catch (e) {
          if (!done) subscriber.error(e);
        } finally {
          running = false;
        }
      };
      const sub = this.collection.changes().subscribe({ next: () => void refresh(), complete: () => subscriber.complete() });
      void refresh();
      return () => {
        done = true;
        sub.unsubscribe();
      };
    });
  }
}
