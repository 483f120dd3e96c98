// The data every workload sends: to-do documents of exactly 150 bytes of JSON
// text, with words from a fixed pseudo-random sequence, so that LevelDB's and
// gzip's compression see text-like data (a run of one letter would compress
// to nothing and flatter every figure).
import { create } from "@bufbuild/protobuf";
import { ChangeEventSchema, Operation, type ChangeEvent } from "../gen/ts/pocket/sync/v1/sync_pb.js";

export const DOCUMENT_BYTES = 150;

const WORDS = [
  "buy", "milk", "call", "mom", "fix", "bike", "plan", "trip", "read", "book", "pay", "rent", "walk", "dog",
  "clean", "desk", "email", "team", "review", "draft", "water", "plants", "book", "dentist", "renew", "passport",
  "order", "parts", "backup", "photos", "bake", "bread", "update", "budget", "return", "parcel", "sort", "mail",
];

/** xorshift32: the same words for the same n in every process and run. */
function words(seed: number, bytes: number): string {
  let x = (seed * 2654435761) >>> 0 || 1;
  let out = "";
  while (out.length < bytes) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out += (out ? " " : "") + WORDS[x % WORDS.length];
  }
  return out.slice(0, bytes);
}

/**
 * A to-do document as JSON text of exactly DOCUMENT_BYTES bytes (ASCII); with
 * `list`, it carries a top-level `"list"` field (what a filter selects on) and
 * shorter notes.
 */
export function documentText(n: number, list?: string): string {
  const head = `{${list === undefined ? "" : `"list":${JSON.stringify(list)},`}"title":"task ${n}","done":${n % 3 === 0},"priority":${n % 5},"notes":"`;
  const tail = `"}`;
  const room = DOCUMENT_BYTES - head.length - tail.length;
  if (room < 0) throw new Error(`document ${n} does not fit in ${DOCUMENT_BYTES} bytes`);
  return head + words(n, room) + tail;
}

/** The same document as an object (for the client library and PouchDB). */
export function documentObject(n: number): Record<string, unknown> {
  return JSON.parse(documentText(n)) as Record<string, unknown>;
}

/**
 * How the filtered workload spreads documents over to-do lists: one in
 * `hotEvery` is in HOT_LIST, evenly through the collection (so its documents
 * lie between everyone else's, as they would in a real app), and the others
 * cycle through `lists` other lists.
 */
export interface ListSpread {
  readonly hotEvery: number;
  readonly lists: number;
}

export const HOT_LIST = "hot";

export function listOf(n: number, spread: ListSpread): string {
  return n % spread.hotEvery === 0 ? HOT_LIST : `list-${n % spread.lists}`;
}

/** How many of the documents `from` .. `from + count - 1` are in HOT_LIST. */
export function hotCount(from: number, count: number, spread: ListSpread): number {
  const multiplesBelow = (end: number) => Math.ceil(end / spread.hotEvery);
  return multiplesBelow(from + count) - multiplesBelow(from);
}

let logical = 0;
/** A change as a client pushes it: an insert, or an update on `baseRevision`. */
export function pushedChange(collection: string, documentId: string, n: number, clientSequence: number, baseRevision = "", text = documentText(n)): ChangeEvent {
  return create(ChangeEventSchema, {
    operation: baseRevision ? Operation.UPDATE : Operation.INSERT,
    collection,
    documentId,
    document: text,
    baseRevision,
    clientSequence: BigInt(clientSequence),
    timestamp: { wallTimeMs: BigInt(Date.now()), logical: logical++ & 0xffff },
  });
}

/** Document ids that sort in the order they were made, like the server's sequence keys. */
export function documentId(prefix: string, n: number): string {
  return `${prefix}-${n.toString().padStart(9, "0")}`;
}
