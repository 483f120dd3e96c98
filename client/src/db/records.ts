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
  return text === undefined || text === null ? undefined : (JSON.parse(text) as DocRecord);
}

/** The records of several documents of one store, in one read where the store allows. */
export async function readRecordsByKey(level: LevelLike, keys: string[]): Promise<Array<DocRecord | undefined>> {
  if (keys.length === 0) return [];
  const texts = level.getMany ? await level.getMany(keys) : await Promise.all(keys.map((k) => level.get(k)));
  return texts.map((text) => (text === undefined || text === null ? undefined : (JSON.parse(text) as DocRecord)));
}

/** Every stored document of a collection, tombstones included, in id order. */
export async function* readRecords(level: LevelLike, collection: string): AsyncGenerator<[string, DocRecord]> {
  const prefix = `${DOC_PREFIX}${collection}/`;
  for await (const [key, value] of level.iterator(collectionRange(collection))) {
    yield [key.slice(prefix.length), JSON.parse(value) as DocRecord];
  }
}
