// The state every part of the local database shares: the store, the clock,
// the change feed and the outbox, one write at a time, each write one batch.
import type { HybridLogicalClock } from "../../../common/src/index.js";
import type { ChangeFeed, FeedEvents } from "./change-feed.js";
import type { Outbox } from "./outbox.js";
import { META, encodeTs, readRecord, readRecords, type BatchOp, type DocRecord } from "./records.js";
import type { LevelLike } from "./storage.js";

export class DbCore {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly name: string,
    readonly level: LevelLike,
    readonly clientId: string,
    readonly hlc: HybridLogicalClock,
    readonly syncEnabled: boolean,
    readonly feed: ChangeFeed,
    readonly outbox: Outbox,
  ) {}

  /** Runs `fn` after every earlier write, one at a time. */
  serial<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.queue.then(() => {
      if (this.closed) throw new Error(`database ${this.name} is closed`);
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  record(collection: string, id: string): Promise<DocRecord | undefined> {
    return readRecord(this.level, collection, id);
  }

  records(collection: string): AsyncGenerator<[string, DocRecord]> {
    return readRecords(this.level, collection);
  }

  /** Stores `ops` with the change sequence and clock reached, in one batch; then emits. */
  async commit(ops: BatchOp[], events: FeedEvents, outboxChanged = false): Promise<void> {
    await this.level.batch([...ops, this.feed.sequenceOp(), { type: "put", key: META.hlc, value: JSON.stringify(encodeTs(this.hlc.current())) }]);
    this.feed.emit(events);
    if (outboxChanged) this.outbox.notify();
  }

  /** Refuses new writes, waits for those queued, and closes the store. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => undefined);
    this.feed.complete();
    this.outbox.complete();
    await this.level.close();
  }
}
