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

/** A to-do document as JSON text of exactly DOCUMENT_BYTES bytes (ASCII). */
export function documentText(n: number): string {
  const head = `{"title":"task ${n}","done":${n % 3 === 0},"priority":${n % 5},"notes":"`;
  const tail = `"}`;
  const room = DOCUMENT_BYTES - head.length - tail.length;
  if (room < 0) throw new Error(`document ${n} does not fit in ${DOCUMENT_BYTES} bytes`);
  return head + words(n, room) + tail;
}

/** The same document as an object (for the client library and PouchDB). */
export function documentObject(n: number): Record<string, unknown> {
  return JSON.parse(documentText(n)) as Record<string, unknown>;
}

let logical = 0;
/** A change as a client pushes it: an insert, or an update on `baseRevision`. */
export function pushedChange(collection: string, documentId: string, n: number, clientSequence: number, baseRevision = ""): ChangeEvent {
  return create(ChangeEventSchema, {
    operation: baseRevision ? Operation.UPDATE : Operation.INSERT,
    collection,
    documentId,
    document: documentText(n),
    baseRevision,
    clientSequence: BigInt(clientSequence),
    timestamp: { wallTimeMs: BigInt(Date.now()), logical: logical++ & 0xffff },
  });
}

/** Document ids that sort in the order they were made, like the server's sequence keys. */
export function documentId(prefix: string, n: number): string {
  return `${prefix}-${n.toString().padStart(9, "0")}`;
}
