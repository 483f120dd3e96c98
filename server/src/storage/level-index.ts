// Field indexes on abstract-level (see IndexEntry in types.ts): one key per
// entry, no value, in its own sublevel:
//
//   collection NUL field NUL value NUL sequence (20 digits) NUL documentId
//
// Collection names and document ids hold no NUL (schema patterns), field
// names are checked for one (index-values.ts, batch-rules.ts) and canonical
// values are JSON text, which escapes it. So the entries of one value lie in
// one key range in sequence order, and a read for k values is k range scans
// merged by sequence: the entries it returns plus one seek per value.
import type { AbstractLevel, AbstractSublevel } from "abstract-level";
import type { IndexEntry } from "./types.js";

type Db = AbstractLevel<string | Buffer | Uint8Array, string, unknown>;
export type IndexSub = AbstractSublevel<Db, string | Buffer | Uint8Array, string, unknown>;

const SEP = "\u0000";
/** Sorts right after SEP: the end of every range "prefix SEP ...". */
const AFTER_SEP = "\u0001";
const padded = (sequence: bigint) => sequence.toString().padStart(20, "0");

/** Where the entries of one value of one field start. */
const valuePrefix = (collection: string, field: string, value: string) => `${collection}${SEP}${field}${SEP}${value}${SEP}`;

export const indexKey = (entry: IndexEntry): string =>
  `${valuePrefix(entry.collection, entry.field, entry.value)}${padded(entry.sequence)}${SEP}${entry.documentId}`;

export function parseIndexKey(key: string): IndexEntry {
  const [collection, field, value, sequence, documentId] = key.split(SEP) as [string, string, string, string, string];
  return { collection, field, value, sequence: BigInt(sequence), documentId };
}

/** Every entry of one collection: [gte, lt]. */
export const collectionRange = (collection: string) => ({ gte: `${collection}${SEP}`, lt: `${collection}${AFTER_SEP}` });
/** Every entry of one field of one collection. */
export const fieldRange = (collection: string, field: string) => ({ gte: `${collection}${SEP}${field}${SEP}`, lt: `${collection}${SEP}${field}${AFTER_SEP}` });

/** Document ids in byte order (UTF-8), as PostgreSQL's COLLATE "C" sorts them. */
const byteOrder = (a: string, b: string) => (a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b)));

/** One value's entries, read lazily in batches. */
class Cursor {
  private buffer: string[] = [];
  private at = 0;
  private done = false;
  head: { sequence: string; documentId: string } | undefined;

  constructor(
    private readonly keys: ReturnType<IndexSub["keys"]>,
    private readonly prefixLength: number,
    private readonly batch: number,
  ) {}

  /** Moves to the next entry (the first, at start); head is undefined at the end. */
  async advance(): Promise<void> {
    if (this.at >= this.buffer.length && !this.done) {
      this.buffer = (await this.keys.nextv(this.batch)) as string[];
      this.at = 0;
      if (this.buffer.length < this.batch) this.done = true;
    }
    const key = this.buffer[this.at++];
    this.head = key === undefined ? undefined : { sequence: key.slice(this.prefixLength, this.prefixLength + 20), documentId: key.slice(this.prefixLength + 21) };
  }

  close(): Promise<void> {
    return this.keys.close();
  }
}

/**
 * The entries of `values` with after < sequence <= bound, merged in sequence
 * order (ties by document id), each (sequence, document) once, at most `limit`.
 */
export async function readEntries(
  sub: IndexSub,
  query: { collection: string; field: string; values: readonly string[]; after: bigint; limit: number },
  bound: bigint,
): Promise<Array<{ sequence: bigint; documentId: string }>> {
  const values = [...new Set(query.values)];
  if (bound <= query.after || query.limit <= 0 || values.length === 0) return [];
  const batch = Math.min(query.limit, 128);
  const cursors = values.map((value) => {
    const prefix = valuePrefix(query.collection, query.field, value);
    const keys = sub.keys({ gt: `${prefix}${padded(query.after)}${AFTER_SEP}`, lt: `${prefix}${padded(bound)}${AFTER_SEP}`, limit: query.limit });
    return new Cursor(keys, prefix.length, batch);
  });
  const entries: Array<{ sequence: bigint; documentId: string }> = [];
  try {
    await Promise.all(cursors.map((c) => c.advance()));
    let last: { sequence: string; documentId: string } | undefined;
    while (entries.length < query.limit) {
      let first: Cursor | undefined;
      for (const cursor of cursors) {
        const head = cursor.head;
        if (!head) continue;
        const best = first?.head;
        if (!best || head.sequence < best.sequence || (head.sequence === best.sequence && byteOrder(head.documentId, best.documentId) < 0)) first = cursor;
      }
      if (!first) break;
      const head = first.head!;
      // The same change found under two values (a document moved from one to the other).
      if (!last || head.sequence !== last.sequence || head.documentId !== last.documentId) {
        entries.push({ sequence: BigInt(head.sequence), documentId: head.documentId });
        last = head;
      }
      await first.advance();
    }
  } finally {
    await Promise.all(cursors.map((c) => c.close()));
  }
  return entries;
}
