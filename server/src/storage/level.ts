// Storage on abstract-level: LevelDB on disk by default (classic-level via
// `level`), memory-level for tests, or any abstract-level database. Every
// commit is one atomic batch: documents, the change index, the idempotency
// records, client-id bindings and the sequence counter together.
//
// One process owns a LevelDB directory (LevelDB's own lock file sees to it),
// so commit groups are serialized in memory: a group's reads and its batch
// run with no other group or purge in between, and the counter lives in
// memory, persisted with every batch.
import type { AbstractLevel, AbstractSublevel } from "abstract-level";
import { randomUUID } from "node:crypto";
import { decodeChange, decodeRecord, encodeChange, encodeRecord } from "./codec.js";
import { checkBatchSequences, SerialQueue, writesAnything } from "./batch-rules.js";
import { renamedReadRule } from "./read-rule.js";
import { covers, fieldValues, indexedFields, specKey } from "./index-values.js";
import { builtOf, EMPTY_INDEX_SET, indexSetJson, planIndexes, type IndexSetJson } from "./index-set.js";
import { collectionRange, fieldRange, indexKey, parseIndexKey, readEntries, type IndexSub } from "./level-index.js";
import {
  ClientIdAlreadyBound,
  IdempotencyKeyTaken,
  type BatchRead,
  type BatchReadResult,
  type BuiltIndex,
  type ChangesPage,
  type CommitBatch,
  type CommittedGroup,
  type CommittedPosition,
  type DocumentKey,
  type GroupWork,
  type IdempotencyRecord,
  type IndexChanges,
  type IndexPage,
  type IndexQuery,
  type IndexSpec,
  type PurgeResult,
  type Storage,
  type StorageMeta,
  type StateQuery,
  type StatesAt,
  type StoredChange,
} from "./types.js";
import type { ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";

type Db = AbstractLevel<string | Buffer | Uint8Array, string, unknown>;
type Sub = AbstractSublevel<Db, string | Buffer | Uint8Array, string, unknown>;

// Collection names and document ids cannot contain "\u0000" (schema
// patterns), so it separates key parts without escaping.
const SEP = "\u0000";
const seqKey = (collection: string, sequence: bigint) => `${collection}${SEP}${sequence.toString().padStart(20, "0")}`;
const docKey = (collection: string, documentId: string) => `${collection}${SEP}${documentId}`;
const padded = (sequence: bigint) => sequence.toString().padStart(20, "0");
const stateKey = (collection: string, documentId: string, supersededBy: bigint) => `${docKey(collection, documentId)}${SEP}${padded(supersededBy)}`;
const idemKey = (clientId: string, clientSequence: bigint) => `${clientId}${SEP}${clientSequence.toString().padStart(20, "0")}`;

type BatchOp = { type: "put" | "del"; key: string; value?: unknown; sublevel: Sub };
/** A root-level operation, key already prefixed with its sublevel's prefix. */
type RawOp = { type: "put" | "del"; key: string; value: Uint8Array | undefined };
const RAW_WRITE = { keyEncoding: "utf8", valueEncoding: "view" } as const;
const SYNCED_RAW_WRITE = { ...RAW_WRITE, sync: true } as const;
const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);
/** Documents read per backfill step, and index keys deleted per drop step: what a commit may wait behind. */
const INDEX_CHUNK = 500;

interface MetaJson {
  epoch: string;
  lastSequence: string;
  purgedThrough: Record<string, string>;
}

export class LevelStorage implements Storage {
  private readonly changes: Sub; // collection+sequence -> change (the change index; one entry per document)
  private readonly documents: Sub; // collection+documentId -> sequence of its latest change
  private readonly idempotency: Sub; // clientId+clientSequence -> record
  private readonly history: Sub; // collection+documentId+revision -> superseded change
  private readonly owners: Sub; // clientId -> principal id
  private readonly states: Sub; // collection+documentId+supersededBy -> superseded change (read rules)
  private readonly index: IndexSub; // collection+field+value+sequence+documentId -> nothing (field indexes, level-index.ts)
  private readonly meta: Sub;
  /** Each sublevel's key prefix, for writing through the root. */
  private readonly prefixes: { changes: string; documents: string; idempotency: string; history: string; owners: string; states: string; index: string; meta: string };
  /** The field indexes (persisted under meta "indexes"), and those in force. */
  private indexSet: IndexSetJson = EMPTY_INDEX_SET;
  private built: BuiltIndex[] = [];
  /** setIndexes calls, one at a time. */
  private readonly indexChanges = new SerialQueue();
  private epoch = "";
  private lastSequence = 0n;
  private purgedThrough: Record<string, bigint> = {};
  /** Commit groups and purges, one at a time. */
  private readonly writes = new SerialQueue();

  constructor(private readonly db: Db) {
    this.changes = db.sublevel("c", { valueEncoding: "view" }) as Sub;
    this.documents = db.sublevel("d", { valueEncoding: "utf8" }) as Sub;
    this.idempotency = db.sublevel("i", { valueEncoding: "utf8" }) as Sub;
    this.history = db.sublevel("h", { valueEncoding: "view" }) as Sub;
    this.owners = db.sublevel("o", { valueEncoding: "utf8" }) as Sub;
    this.states = db.sublevel("s", { valueEncoding: "view" }) as Sub;
    this.index = db.sublevel("x", { valueEncoding: "view" }) as IndexSub;
    this.meta = db.sublevel("m", { valueEncoding: "utf8" }) as Sub;
    this.prefixes = {
      changes: this.changes.prefix,
      documents: this.documents.prefix,
      idempotency: this.idempotency.prefix,
      history: this.history.prefix,
      owners: this.owners.prefix,
      states: this.states.prefix,
      index: this.index.prefix,
      meta: this.meta.prefix,
    };
  }

  async open(): Promise<StorageMeta> {
    await this.db.open();
    const indexes = (await this.meta.get("indexes")) as string | undefined;
    this.indexSet = indexes === undefined ? EMPTY_INDEX_SET : (JSON.parse(indexes) as IndexSetJson);
    this.built = builtOf(this.indexSet);
    const stored = (await this.meta.get("meta")) as string | undefined;
    if (stored === undefined) {
      const fresh: MetaJson = { epoch: randomUUID(), lastSequence: "0", purgedThrough: {} };
      await this.meta.put("meta", JSON.stringify(fresh), { sync: true } as object);
      return this.toMeta(fresh);
    }
    return this.toMeta(JSON.parse(stored) as MetaJson);
  }

  private toMeta(json: MetaJson): StorageMeta {
    this.epoch = json.epoch;
    this.lastSequence = BigInt(json.lastSequence);
    this.purgedThrough = Object.fromEntries(Object.entries(json.purgedThrough).map(([k, v]) => [k, BigInt(v)]));
    return { epoch: json.epoch, lastSequence: BigInt(json.lastSequence), purgedThrough: { ...this.purgedThrough } };
  }

  private metaJson(lastSequence: bigint): string {
    const json: MetaJson = {
      epoch: this.epoch,
      lastSequence: lastSequence.toString(),
      purgedThrough: Object.fromEntries(Object.entries(this.purgedThrough).map(([k, v]) => [k, v.toString()])),
    };
    return JSON.stringify(json);
  }

  async getDocuments(keys: readonly DocumentKey[]): Promise<Array<StoredChange | undefined>> {
    if (keys.length === 0) return [];
    const sequences = await this.documents.getMany(keys.map((k) => docKey(k.collection, k.documentId)));
    const indexKeys = sequences.map((seq, i) => (seq === undefined ? undefined : seqKey(keys[i]!.collection, BigInt(seq as string))));
    const present = indexKeys.filter((k): k is string => k !== undefined);
    const values = present.length ? await this.changes.getMany(present) : [];
    let next = 0;
    return indexKeys.map((k) => {
      if (k === undefined) return undefined;
      const value = values[next++];
      return value === undefined ? undefined : decodeChange(value as Uint8Array);
    });
  }

  async getStatesAt(queries: readonly StateQuery[]): Promise<StatesAt> {
    const states = await Promise.all(queries.map(async ({ collection, documentId, sequence }) => {
      // The first state superseded after `sequence`: the document's state then, if it already existed.
      const [value] = await this.states.values({ gt: stateKey(collection, documentId, sequence), lt: `${docKey(collection, documentId)}\u0001`, limit: 1 }).all();
      const event = value === undefined ? undefined : decodeChange(value as Uint8Array).event;
      return event && event.serverSequence <= sequence ? event : undefined;
    }));
    // The watermarks after the reads: a purge raises them before it deletes (as for readPage).
    return { states, purgedThrough: { ...this.purgedThrough } };
  }

  async getHistoricState(collection: string, documentId: string, revision: string): Promise<StoredChange | undefined> {
    const value = await this.history.get(`${docKey(collection, documentId)}${SEP}${revision}`);
    return value === undefined ? undefined : decodeChange(value as Uint8Array);
  }

  async getIdempotencyRecords(clientId: string, clientSequences: readonly bigint[]): Promise<Array<IdempotencyRecord | undefined>> {
    if (clientSequences.length === 0) return [];
    const values = await this.idempotency.getMany(clientSequences.map((s) => idemKey(clientId, s)));
    return values.map((v) => (v === undefined ? undefined : decodeRecord(v as string)));
  }

  async getClientOwner(clientId: string): Promise<string | undefined> {
    return (await this.owners.get(clientId)) as string | undefined;
  }

  async readBatch(read: BatchRead): Promise<BatchReadResult> {
    const [documents, records, owners] = await Promise.all([
      this.getDocuments(read.documents),
      read.records.length
        ? this.idempotency.getMany(read.records.map((r) => idemKey(r.clientId, r.clientSequence))).then((values) => values.map((v) => (v === undefined ? undefined : decodeRecord(v as string))))
        : [],
      read.owners.length ? (this.owners.getMany([...read.owners]) as Promise<Array<string | undefined>>) : [],
    ]);
    return { documents, records, owners };
  }

  commitGroup<T>(work: GroupWork<T>, options: { sync: boolean }): Promise<CommittedGroup<T>> {
    return this.writes.run(async () => {
      const after = this.lastSequence;
      const { batch, result } = await work(this, after);
      if (!writesAnything(batch)) return { result, after, lastSequence: after };
      checkBatchSequences(batch, after);
      await this.write(batch, options);
      return { result, after, lastSequence: this.lastSequence };
    });
  }

  private async write(batch: CommitBatch, options: { sync: boolean }): Promise<void> {
    // Root-level operations with the sublevels' prefixes written out and one
    // shape for every operation: abstract-level's per-operation work for
    // sublevel operations (option merging, encoding lookups, re-prefixing)
    // cost more than LevelDB's write itself. The bytes on disk are the same.
    const ops: RawOp[] = [];
    const { changes, documents, history, idempotency, meta, owners: ownersPrefix, states } = this.prefixes;
    // LevelDB has no constraints; groups run one at a time, so reading first
    // gives bindings and idempotency keys the same all-or-nothing rule as
    // PostgreSQL's keys.
    const owners = batch.owners ?? [];
    if (owners.length) {
      const bound = await this.owners.getMany(owners.map((o) => o.clientId));
      const taken = owners.find((o, i) => bound[i] !== undefined || owners.findIndex((p) => p.clientId === o.clientId) !== i);
      if (taken) throw new ClientIdAlreadyBound(taken.clientId);
      for (const { clientId, principal } of owners) ops.push({ type: "put", key: ownersPrefix + clientId, value: utf8.encode(principal) });
    }
    if (batch.idempotency.length) {
      const keys = batch.idempotency.map((r) => idemKey(r.clientId, r.clientSequence));
      const present = await this.idempotency.getMany(keys);
      const seen = new Set<string>();
      const taken = batch.idempotency.find((_, i) => present[i] !== undefined || seen.size === seen.add(keys[i]!).size);
      if (taken) throw new IdempotencyKeyTaken(taken.clientId, taken.clientSequence);
    }
    // Where each document's index entry stands before this batch, or was
    // moved to by an earlier change of the same batch.
    const previous = new Map<string, bigint | undefined>();
    const keys = batch.changes.map((c) => docKey(c.event.collection, c.event.documentId));
    const unseen = [...new Set(keys)];
    const stored = unseen.length ? await this.documents.getMany(unseen) : [];
    unseen.forEach((k, i) => previous.set(k, stored[i] === undefined ? undefined : BigInt(stored[i] as string)));
    batch.changes.forEach((change, i) => {
      const { collection, serverSequence } = change.event;
      const key = keys[i]!;
      const before = previous.get(key);
      if (before !== undefined) ops.push({ type: "del", key: changes + seqKey(collection, before), value: undefined });
      ops.push({ type: "put", key: changes + seqKey(collection, serverSequence), value: encodeChange(change) });
      ops.push({ type: "put", key: documents + key, value: utf8.encode(serverSequence.toString()) });
      previous.set(key, serverSequence);
    });
    for (const kept of batch.history ?? []) {
      const { collection, documentId, revision } = kept.event;
      ops.push({ type: "put", key: `${history}${docKey(collection, documentId)}${SEP}${revision}`, value: encodeChange(kept) });
    }
    for (const { event, supersededBy, supersededAtMs } of batch.superseded ?? []) {
      ops.push({ type: "put", key: states + stateKey(event.collection, event.documentId, supersededBy), value: encodeChange({ event, committedAtMs: supersededAtMs }) });
    }
    for (const record of batch.idempotency) {
      ops.push({ type: "put", key: idempotency + idemKey(record.clientId, record.clientSequence), value: utf8.encode(encodeRecord(record)) });
    }
    for (const entry of batch.index ?? []) ops.push({ type: "put", key: this.prefixes.index + indexKey(entry), value: EMPTY });
    const lastSequence = batch.lastSequence > this.lastSequence ? batch.lastSequence : this.lastSequence;
    ops.push({ type: "put", key: `${meta}meta`, value: utf8.encode(this.metaJson(lastSequence)) });
    await this.db.batch(ops as never, (options.sync ? SYNCED_RAW_WRITE : RAW_WRITE) as object);
    this.lastSequence = lastSequence;
  }

  async readPosition(): Promise<CommittedPosition> {
    return { lastSequence: this.lastSequence, purgedThrough: { ...this.purgedThrough } };
  }

  async readPage(from: ReadonlyArray<readonly [string, bigint]>, limit: number, upTo?: bigint): Promise<ChangesPage> {
    // The last sequence before reading: every commit up to it is written.
    // The purge watermarks after: a purge that began before the reads ended
    // raised them first, so a tombstone it removed under the reads is never
    // taken for one that was not there.
    const lastSequence = this.lastSequence;
    const bound = upTo !== undefined && upTo < lastSequence ? upTo : lastSequence;
    const changes = await Promise.all(from.map(([collection, after]) => this.readChanges(collection, after, bound, limit)));
    return { position: { lastSequence, purgedThrough: { ...this.purgedThrough } }, changes };
  }

  private async readChanges(collection: string, afterSequence: bigint, upToSequence: bigint, limit: number): Promise<StoredChange[]> {
    if (upToSequence <= afterSequence || limit <= 0) return [];
    const values = await this.changes.values({ gt: seqKey(collection, afterSequence), lte: seqKey(collection, upToSequence), limit }).all();
    return values.map((v) => decodeChange(v as Uint8Array));
  }

  async readIndex(query: IndexQuery): Promise<IndexPage> {
    // As readPage: the last sequence before the reads, the watermarks after.
    const lastSequence = this.lastSequence;
    const bound = query.upTo !== undefined && query.upTo < lastSequence ? query.upTo : lastSequence;
    const entries = await readEntries(this.index, query, bound);
    return { entries, position: { lastSequence, purgedThrough: { ...this.purgedThrough } } };
  }

  indexes(): readonly BuiltIndex[] {
    return this.built;
  }

  setIndexes(specs: readonly IndexSpec[]): Promise<IndexChanges> {
    return this.indexChanges.run(() => this.changeIndexes(specs));
  }

  private async changeIndexes(specs: readonly IndexSpec[]): Promise<IndexChanges> {
    const { target, kept, dropped, stale, toBuild } = planIndexes(this.indexSet, specs);
    // Out of force before any entry goes, so a cut-short drop never leaves a
    // partial index in force; what it left is deleted by the next call.
    await this.writes.run(() => this.persistIndexes(indexSetJson(kept, stale)));
    for (const spec of stale) await this.dropEntries(spec, target);
    await this.writes.run(() => this.persistIndexes(indexSetJson(kept)));
    const result = { built: toBuild.map(specKey), dropped: dropped.map(specKey) };
    if (toBuild.length === 0) return result;
    // Complete from here: every commit after it writes the entries of the
    // specs given (the caller's part), and the backfill, serialized with
    // commits, writes each document's latest state.
    const since = await this.writes.run(async () => this.lastSequence);
    await this.backfill(toBuild);
    await this.writes.run(() => this.persistIndexes(indexSetJson([...kept, ...toBuild.map((spec) => ({ ...spec, since }))])));
    return result;
  }

  private async persistIndexes(set: IndexSetJson): Promise<void> {
    await this.meta.put("indexes", JSON.stringify(set), { sync: true } as object);
    this.indexSet = set;
    this.built = builtOf(set);
  }

  /** Writes an entry for the latest state of every document `specs` cover, a chunk per commit-queue turn. */
  private async backfill(specs: readonly IndexSpec[]): Promise<void> {
    const everyCollection = specs.some((s) => s.collection === "*");
    const ranges = everyCollection ? [{}] : [...new Set(specs.map((s) => s.collection))].map(collectionRange);
    for (const range of ranges) {
      let from: string | undefined;
      for (;;) {
        const next = await this.writes.run(() => this.backfillChunk(specs, range, from));
        if (next === undefined) break;
        from = next;
      }
    }
  }

  /** One step: up to INDEX_CHUNK documents after `from`; returns the last key read, undefined at the end. */
  private async backfillChunk(specs: readonly IndexSpec[], range: { gte?: string; lt?: string }, from: string | undefined): Promise<string | undefined> {
    const bounds = from === undefined ? range : { gt: from, ...(range.lt === undefined ? {} : { lt: range.lt }) };
    const rows = await this.documents.iterator({ ...bounds, limit: INDEX_CHUNK }).all();
    if (rows.length === 0) return undefined;
    const located = rows.map(([key, sequence]) => ({ collection: key.slice(0, key.indexOf(SEP)), key, sequence: BigInt(sequence as string) }));
    const values = await this.changes.getMany(located.map((l) => seqKey(l.collection, l.sequence)));
    const ops: RawOp[] = [];
    values.forEach((value, i) => {
      if (value === undefined) return;
      const { event } = decodeChange(value as Uint8Array);
      const fields = indexedFields(specs, event.collection);
      for (const [field, fieldValue] of fieldValues(event.document, fields)) {
        const entry = { collection: event.collection, field, value: fieldValue, sequence: event.serverSequence, documentId: event.documentId };
        ops.push({ type: "put", key: this.prefixes.index + indexKey(entry), value: EMPTY });
      }
    });
    if (ops.length) await this.db.batch(ops as never, RAW_WRITE as object);
    return rows.length < INDEX_CHUNK ? undefined : rows.at(-1)![0];
  }

  /** Deletes the entries of `spec` that no spec of `target` covers, a chunk per commit-queue turn. */
  private async dropEntries(spec: IndexSpec, target: readonly IndexSpec[]): Promise<void> {
    const collections = spec.collection === "*" ? await this.indexedCollections() : [spec.collection];
    for (const collection of collections) {
      if (target.some((t) => covers(t, collection, spec.field))) continue;
      for (;;) {
        const keys = await this.index.keys({ ...fieldRange(collection, spec.field), limit: INDEX_CHUNK }).all();
        if (keys.length === 0) break;
        await this.writes.run(() => this.index.batch(keys.map((key) => ({ type: "del" as const, key }))));
      }
    }
  }

  /** The collections holding index entries. */
  private indexedCollections(): Promise<string[]> {
    return collectionsOf(this.index.keys());
  }

  listCollections(): Promise<string[]> {
    return collectionsOf(this.changes.keys());
  }

  setReadRule(name: string): Promise<boolean> {
    return this.writes.run(async () => {
      if ((((await this.meta.get("readRule")) as string | undefined) ?? "") === name) return false;
      const renamed = renamedReadRule(await this.listCollections(), this.purgedThrough, this.lastSequence);
      const before = this.purgedThrough;
      this.purgedThrough = renamed.purgedThrough;
      try {
        await this.meta.batch(
          [
            { type: "put", key: "meta", value: this.metaJson(renamed.lastSequence) },
            { type: "put", key: "readRule", value: name },
          ],
          { sync: true } as object,
        );
      } catch (error) {
        this.purgedThrough = before;
        throw error;
      }
      this.lastSequence = renamed.lastSequence;
      return true;
    });
  }

  purge(cutoffMs: number, recordsCutoffMs = cutoffMs): Promise<PurgeResult> {
    return this.writes.run(() => this.purgeNow(cutoffMs, recordsCutoffMs));
  }

  private async purgeNow(cutoffMs: number, recordsCutoffMs: number): Promise<PurgeResult> {
    const ops: BatchOp[] = [];
    const purgedThrough = { ...this.purgedThrough };
    let tombstonesPurged = 0;
    const gone = new Set<string>(); // documents whose purged tombstone was their latest change
    for await (const [key, value] of this.changes.iterator()) {
      const { event, committedAtMs } = decodeChange(value as Uint8Array);
      if (!event.deleted || committedAtMs >= cutoffMs) continue;
      ops.push({ type: "del", key, sublevel: this.changes });
      ops.push({ type: "del", key: docKey(event.collection, event.documentId), sublevel: this.documents });
      gone.add(docKey(event.collection, event.documentId));
      const watermark = purgedThrough[event.collection] ?? 0n;
      if (event.serverSequence > watermark) purgedThrough[event.collection] = event.serverSequence;
      tombstonesPurged++;
    }
    for await (const [key, value] of this.history.iterator()) {
      if (decodeChange(value as Uint8Array).committedAtMs < recordsCutoffMs) ops.push({ type: "del", key, sublevel: this.history });
    }
    for await (const [key, value] of this.states.iterator()) {
      const { event, committedAtMs } = decodeChange(value as Uint8Array);
      if (committedAtMs >= cutoffMs) continue;
      ops.push({ type: "del", key, sublevel: this.states });
      // A checkpoint below its successor might need this state (PROTOCOL §13.6).
      const supersededBy = BigInt(key.slice(key.lastIndexOf(SEP) + 1));
      if (supersededBy > (purgedThrough[event.collection] ?? 0n)) purgedThrough[event.collection] = supersededBy;
    }
    let idempotencyRecordsPurged = 0;
    for await (const [key, value] of this.idempotency.iterator()) {
      if ((JSON.parse(value as string) as { committedAtMs: number }).committedAtMs < recordsCutoffMs) {
        ops.push({ type: "del", key, sublevel: this.idempotency });
        idempotencyRecordsPurged++;
      }
    }
    for (const [collection, watermark] of Object.entries(purgedThrough)) {
      for (const key of await this.obsoleteEntries(collection, watermark, gone)) ops.push({ type: "del", key, sublevel: this.index as unknown as Sub });
    }
    if (ops.length > 0) {
      const before = this.purgedThrough;
      this.purgedThrough = purgedThrough;
      ops.push({ type: "put", key: "meta", value: this.metaJson(this.lastSequence), sublevel: this.meta });
      try {
        await this.db.batch(ops as never, { sync: true } as object);
      } catch (error) {
        this.purgedThrough = before;
        throw error;
      }
    }
    return { tombstonesPurged, idempotencyRecordsPurged, purgedThrough: { ...this.purgedThrough } };
  }

  /**
   * The index entries of `collection` at or below its watermark that are not
   * at their document's latest sequence: a reader that would need one is
   * below the watermark and starts over, and one starting over needs only
   * the entries of latest states.
   */
  private async obsoleteEntries(collection: string, watermark: bigint, gone: ReadonlySet<string>): Promise<string[]> {
    const obsolete: string[] = [];
    let candidates: Array<{ key: string; sequence: bigint; document: string }> = [];
    const judge = async () => {
      const latest = await this.documents.getMany(candidates.map((c) => c.document));
      candidates.forEach((c, i) => {
        if (gone.has(c.document) || latest[i] === undefined || BigInt(latest[i] as string) !== c.sequence) obsolete.push(c.key);
      });
      candidates = [];
    };
    for await (const key of this.index.keys(collectionRange(collection))) {
      const entry = parseIndexKey(key);
      if (entry.sequence > watermark) continue;
      candidates.push({ key, sequence: entry.sequence, document: docKey(collection, entry.documentId) });
      if (candidates.length >= INDEX_CHUNK) await judge();
    }
    if (candidates.length) await judge();
    return obsolete;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/**
 * The collections of a sublevel whose keys start "collection SEP": a skip
 * scan, a step per collection and not per key. After the first key of a
 * collection it seeks past all of them ("\u0001" sorts right after SEP and
 * cannot occur in a name).
 */
async function collectionsOf(keys: { next(): Promise<string | undefined>; seek(target: string): void; close(): Promise<void> }): Promise<string[]> {
  const found: string[] = [];
  try {
    for (let key = await keys.next(); key !== undefined; key = await keys.next()) {
      const collection = key.slice(0, key.indexOf(SEP));
      found.push(collection);
      keys.seek(`${collection}\u0001`);
    }
  } finally {
    await keys.close();
  }
  return found;
}
