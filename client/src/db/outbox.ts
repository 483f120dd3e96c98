// The outbox: at most one entry per document, keyed by the client sequence of
// its last local write, so that reading it in key order gives the pending
// changes oldest first (PROTOCOL §9.1, §9.2). Entries are written in the same
// batch as the documents they point to.
import { Subject, type Observable } from "rxjs";
import type { PendingChange } from "../store.js";
import { META, OUTBOX_PREFIX, decodeTs, docKey, outboxKey, readRecordsByKey, type BatchOp } from "./records.js";
import { readRange, type LevelLike } from "./storage.js";

/** Outbox entries (and their documents) read at once. */
const READ_CHUNK = 1000;

interface OutboxEntry {
  c: string;
  i: string;
}

export class Outbox {
  private readonly subject = new Subject<void>();

  constructor(private sequence: bigint) {}

  /** Emits after every write that added to the outbox. */
  changed(): Observable<void> {
    return this.subject.asObservable();
  }

  /**
   * Takes the next client sequence for a local write of a document, and the
   * operations that make it the document's only entry (replacing the entry of
   * its `previous` pending sequence, if any) and store the sequence reached.
   */
  enqueue(collection: string, id: string, previous: string | undefined): { seq: bigint; ops: BatchOp[] } {
    const seq = ++this.sequence;
    const ops: BatchOp[] = [];
    if (previous !== undefined) ops.push(this.drop(previous));
    ops.push({ type: "put", key: outboxKey(seq), value: JSON.stringify({ c: collection, i: id } satisfies OutboxEntry) });
    ops.push({ type: "put", key: META.clientSeq, value: seq.toString() });
    return { seq, ops };
  }

  /** Removes the entry of a pending sequence. */
  drop(pending: string): BatchOp {
    return { type: "del", key: outboxKey(BigInt(pending)) };
  }

  /** Pending changes of `collections` (of every collection when empty), oldest first, at most `limit`. */
  async pending(level: LevelLike, collections: readonly string[], limit: number): Promise<PendingChange[]> {
    const out: PendingChange[] = [];
    const wanted = collections.length > 0 ? new Set(collections) : undefined;
    // Page by page, no further into the outbox than the batch needs; the
    // documents of a page in one read.
    let after: string | undefined;
    while (out.length < limit) {
      const page = Math.min(limit - out.length, READ_CHUNK);
      const range = after === undefined ? { gte: OUTBOX_PREFIX, lt: "o0", limit: page } : { gt: after, lt: "o0", limit: page };
      const entries = await readRange(level, range);
      const candidates: Array<{ seq: bigint; collection: string; id: string }> = [];
      for (const [key, value] of entries) {
        after = key;
        const entry = JSON.parse(value) as OutboxEntry;
        if (!wanted || wanted.has(entry.c)) candidates.push({ seq: BigInt(key.slice(OUTBOX_PREFIX.length)), collection: entry.c, id: entry.i });
      }
      const records = await readRecordsByKey(level, candidates.map((c) => docKey(c.collection, c.id)));
      candidates.forEach(({ seq, collection, id }, n) => {
        const record = records[n];
        // An entry whose document has moved on is not pending (kept for safety; writes replace entries atomically).
        if (!record || record.pending !== seq.toString()) return;
        out.push({
          collection,
          documentId: id,
          clientSequence: seq,
          document: record.doc,
          baseRevision: record.base,
          ...(record.baseDoc !== undefined ? { baseDocument: record.baseDoc } : {}),
          timestamp: decodeTs(record.ts),
        });
      });
      if (entries.length < page) break; // the end of the outbox
    }
    return out;
  }

  notify(): void {
    this.subject.next();
  }

  complete(): void {
    this.subject.complete();
  }
}
