// The change feed: one event per change to a document, local or remote, each
// with the next local change sequence, emitted once its write is stored.
import { Subject, type Observable } from "rxjs";
import { jsonEqual, type HybridLogicalClock, type Timestamp } from "../../../common/src/index.js";
import { META, decodeTs, toDoc, tombstone, type BatchOp, type DocRecord } from "./records.js";
import type { ChangeEvent, ChangeOperation, Doc } from "./types.js";

/** Events of one write, emitted once it is stored: built, or to be built if anyone listens. */
export type FeedEvents = Array<ChangeEvent | (() => ChangeEvent)>;

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

  /**
   * Adds the event of a change from the server to `events`, if the document
   * the application sees changed. The event takes its sequence now but is
   * built only if someone listens when it is emitted.
   */
  remoteEvent(collection: string, id: string, before: DocRecord | undefined, after: DocRecord | undefined, events: FeedEvents): void {
    const hadDoc = before !== undefined && before.doc !== null;
    const hasDoc = after !== undefined && after.doc !== null;
    if (!hadDoc && !hasDoc) return;
    if (hadDoc && hasDoc && before.rev === after.rev && jsonEqual(before.doc, after.doc)) return;
    const sequence = ++this.sequence;
    const now = after ? undefined : this.hlc.current();
    events.push(() => {
      const prev = hadDoc ? toDoc(id, before) : null;
      const ts = after ? decodeTs(after.ts) : now!;
      const timestamp = Number(ts.wallTimeMs);
      if (!hasDoc) {
        const document = tombstone(id, after?.rev ?? prev!._rev);
        return { collection, operation: "delete", documentId: id, document, previousDocument: prev, timestamp, sequence, isFromSync: true };
      }
      const operation = prev === null ? "insert" : "update";
      return { collection, operation, documentId: id, document: toDoc(id, after), previousDocument: prev, timestamp, sequence, isFromSync: true };
    });
  }

  /** Stores the sequence reached, with every write. */
  sequenceOp(): BatchOp {
    return { type: "put", key: META.changeSeq, value: String(this.sequence) };
  }

  emit(events: FeedEvents): void {
    if (!this.subject.observed) return;
    for (const e of events) this.subject.next(typeof e === "function" ? e() : e);
  }

  complete(): void {
    this.subject.complete();
  }
}
