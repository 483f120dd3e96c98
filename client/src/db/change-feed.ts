// The change feed: one event per change to a document, local or remote, each
// with the next local change sequence, emitted once its write is stored.
import { Subject, type Observable } from "rxjs";
import { jsonEqual, type HybridLogicalClock, type Timestamp } from "../../../common/src/index.js";
import { META, decodeTs, toDoc, tombstone, type BatchOp, type DocRecord } from "./records.js";
import type { ChangeEvent, ChangeOperation, Doc } from "./types.js";

export class ChangeFeed {
  private readonly subject = new Subject<ChangeEvent>();

  constructor(
    private sequence: number,
    private readonly hlc: HybridLogicalClock,
  ) {}

  /** The sequence the next event will carry. */
  get nextSequence(): number {
    return this.sequence + 1;
  }

  observe(): Observable<ChangeEvent> {
    return this.subject.asObservable();
  }

  /** A new event, taking the next sequence. */
  event(
    collection: string,
    operation: ChangeOperation,
    id: string,
    document: Doc | null,
    previousDocument: Doc | null,
    ts: Timestamp,
    isFromSync: boolean,
  ): ChangeEvent {
    return { collection, operation, documentId: id, document, previousDocument, timestamp: Number(ts.wallTimeMs), sequence: ++this.sequence, isFromSync };
  }

  /** Adds the event of a change from the server to `events`, if the document the application sees changed. */
  remoteEvent(collection: string, id: string, before: DocRecord | undefined, after: DocRecord | undefined, events: ChangeEvent[]): void {
    const prev = before ? toDoc(id, before) : null;
    const next = after ? toDoc(id, after) : null;
    if (prev === null && next === null) return;
    if (prev !== null && next !== null && prev._rev === next._rev && jsonEqual(before!.doc, after!.doc)) return;
    const ts = after ? decodeTs(after.ts) : this.hlc.current();
    if (next === null) events.push(this.event(collection, "delete", id, tombstone(id, after?.rev ?? prev!._rev), prev, ts, true));
    else events.push(this.event(collection, prev === null ? "insert" : "update", id, next, prev, ts, true));
  }

  /** Stores the sequence reached, with every write. */
  sequenceOp(): BatchOp {
    return { type: "put", key: META.changeSeq, value: String(this.sequence) };
  }

  emit(events: readonly ChangeEvent[]): void {
    for (const e of events) this.subject.next(e);
  }

  complete(): void {
    this.subject.complete();
  }
}
