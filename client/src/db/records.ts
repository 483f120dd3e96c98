// How the database lays out its keys and stores one document: the local state,
// its pending change, its base and the latest server state known.
import type { JsonObject, Timestamp } from "../../../common/src/index.js";
import type { RemoteChange } from "../store.js";
import type { LevelLike } from "./storage.js";
import type { Doc } from "./types.js";

/** The latest server state known of a document. */
export interface ServerState {
  rev: string;
  seq: string; // bigint as decimal
  doc: JsonObject | null;
  ts: [string, number];
  by: string;
}

/** How one document is stored. */
export interface DocRecord {
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

export const DOC_PREFIX = "d/";
export const OUTBOX_PREFIX = "o/";
export const META = {
  clientId: "m/clientId",
  clientSeq: "m/clientSeq",
  changeSeq: "m/changeSeq",
  hlc: "m/hlc",
  checkpoint: "m/checkpoint",
} as const;

export const docKey = (collection: string, id: string) => `${DOC_PREFIX}${collection}/${id}`;
export const collectionRange = (collection: string) => ({ gte: `${DOC_PREFIX}${collection}/`, lt: `${DOC_PREFIX}${collection}0` });
export const outboxKey = (seq: bigint) => `${OUTBOX_PREFIX}${seq.toString().padStart(20, "0")}`;

export type BatchOp = { type: "put"; key: string; value: string } | { type: "del"; key: string };

export const encodeTs = (t: Timestamp): [string, number] => [t.wallTimeMs.toString(), t.logical];
export const decodeTs = (t: [string, number]): Timestamp => ({ wallTimeMs: BigInt(t[0]), logical: t[1] });

/** The document as the application sees it; null for a tombstone. */
export function toDoc<T extends object>(id: string, record: DocRecord): Doc<T> | null {
  if (record.doc === null) return null;
  return { ...(record.doc as object), _id: id, _rev: record.rev } as Doc<T>;
}

export function tombstone<T extends object>(id: string, rev: string): Doc<T> {
  return { _id: id, _rev: rev, _deleted: true } as unknown as Doc<T>;
}

/** The record once a server state is adopted: the local state is the server's, nothing pending. */
export function adopted(state: ServerState): DocRecord {
  return { doc: state.doc, rev: state.rev, ts: state.ts, by: state.by, base: state.rev, baseDoc: state.doc, server: state };
}

// How a record is stored. Most records are "clean" (the local state is the
// server's and nothing is pending): they are stored as the server state alone,
// `{"s": {...}}`. Others keep every field, but a document equal (the same
// object) to the local one is stored as SAME_AS_DOC, or as SAME_AS_BASE when
// it is the base document, instead of a second copy. Records written before
// this encoding have no markers and read as they are. Documents are JSON
// objects or null, never numbers, so the markers cannot be mistaken for one.
const SAME_AS_DOC = 0;
const SAME_AS_BASE = 1;

type StoredDoc = JsonObject | null | typeof SAME_AS_DOC | typeof SAME_AS_BASE;
interface StoredRecord extends Omit<DocRecord, "baseDoc" | "server"> {
  baseDoc?: StoredDoc;
  server?: Omit<ServerState, "doc"> & { doc: StoredDoc };
}

function isClean(r: DocRecord): r is DocRecord & { server: ServerState } {
  const s = r.server;
  return (
    s !== undefined &&
    r.pending === undefined &&
    r.doc === s.doc &&
    r.baseDoc === s.doc &&
    r.rev === s.rev &&
    r.base === s.rev &&
    r.by === s.by &&
    r.ts[0] === s.ts[0] &&
    r.ts[1] === s.ts[1]
  );
}

export function encodeRecord(r: DocRecord): string {
  if (isClean(r)) return JSON.stringify({ s: r.server });
  const stored: StoredRecord = { doc: r.doc, rev: r.rev, ts: r.ts, by: r.by, base: r.base };
  if (r.pending !== undefined) stored.pending = r.pending;
  if (r.baseDoc !== undefined) stored.baseDoc = r.baseDoc === r.doc ? SAME_AS_DOC : r.baseDoc;
  if (r.server) {
    const { doc } = r.server;
    stored.server = { ...r.server, doc: doc === r.doc ? SAME_AS_DOC : doc === r.baseDoc ? SAME_AS_BASE : doc };
  }
  return JSON.stringify(stored);
}

export function decodeRecord(text: string): DocRecord {
  const stored = JSON.parse(text) as StoredRecord | { s: ServerState };
  if ("s" in stored) return adopted(stored.s);
  const record = stored as DocRecord;
  if (stored.baseDoc === SAME_AS_DOC) record.baseDoc = record.doc;
  if (stored.server) {
    if (stored.server.doc === SAME_AS_DOC) record.server!.doc = record.doc;
    else if (stored.server.doc === SAME_AS_BASE) record.server!.doc = record.baseDoc ?? null;
  }
  return record;
}

/** Stores a document's record. */
export function putRecord(collection: string, id: string, record: DocRecord): BatchOp {
  return { type: "put", key: docKey(collection, id), value: encodeRecord(record) };
}

export function newerServer(a: ServerState | undefined, b: ServerState): ServerState {
  return a && BigInt(a.seq) > BigInt(b.seq) ? a : b;
}

export function serverStateOf(change: RemoteChange): ServerState {
  return {
    rev: change.revision,
    seq: change.serverSequence.toString(),
    doc: change.document,
    ts: encodeTs(change.timestamp),
    by: change.clientId,
  };
}

export async function readRecord(level: LevelLike, collection: string, id: string): Promise<DocRecord | undefined> {
  const text = await level.get(docKey(collection, id));
  return text === undefined || text === null ? undefined : decodeRecord(text);
}

/** The records of several documents of one store, in one read where the store allows. */
export async function readRecordsByKey(level: LevelLike, keys: string[]): Promise<Array<DocRecord | undefined>> {
  if (keys.length === 0) return [];
  const texts = level.getMany ? await level.getMany(keys) : await Promise.all(keys.map((k) => level.get(k)));
  return texts.map((text) => (text === undefined || text === null ? undefined : decodeRecord(text)));
}

/** Every stored document of a collection, tombstones included, in id order. */
/** Every document of every collection, as [collection, id, record]. Collection names hold no "/". */
export async function* readAllRecords(level: LevelLike): AsyncGenerator<[string, string, DocRecord]> {
  for await (const [key, value] of level.iterator({ gte: DOC_PREFIX, lt: `${DOC_PREFIX.slice(0, -1)}0` })) {
    const slash = key.indexOf("/", DOC_PREFIX.length);
    yield [key.slice(DOC_PREFIX.length, slash), key.slice(slash + 1), decodeRecord(value)];
  }
}

export async function* readRecords(level: LevelLike, collection: string): AsyncGenerator<[string, DocRecord]> {
  const prefix = `${DOC_PREFIX}${collection}/`;
  for await (const [key, value] of level.iterator(collectionRange(collection))) {
    yield [key.slice(prefix.length), decodeRecord(value)];
  }
}
