// Live fan-out: committed changes reach every open subscription through a
// small bounded queue. A change is grouped by collection once per commit and
// the same message objects are shared by every subscriber; a subscriber whose
// queue overflows is told to catch up from storage instead, so a slow reader
// never grows memory without bound. An idle subscriber costs one small object.
import type { ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { StoredChange } from "../storage/types.js";

export interface Delivery {
  readonly changes: readonly ChangeEvent[];
  /** Every change at or below this sequence has been published. */
  readonly watermark: bigint;
  /** True when changes were dropped: the reader must catch up from storage. */
  readonly overflowed: boolean;
}

export type WakeReason = "changes" | "timeout" | "closed";

export class Subscription {
  private queue: ChangeEvent[] = [];
  private watermark = 0n;
  private overflowed = false;
  private closed = false;
  private waiter: ((reason: WakeReason) => void) | undefined;

  constructor(
    readonly collections: ReadonlySet<string>,
    private readonly maxQueued: number,
    private readonly detach: (s: Subscription) => void,
  ) {}

  /** Resolves when changes arrive, after `timeoutMs` of silence, or on close/abort. */
  wait(timeoutMs: number, signal: AbortSignal): Promise<WakeReason> {
    if (this.closed || signal.aborted) return Promise.resolve("closed");
    if (this.queue.length > 0 || this.overflowed) return Promise.resolve("changes");
    return new Promise<WakeReason>((resolve) => {
      const finish = (reason: WakeReason) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.waiter = undefined;
        resolve(reason);
      };
      const onAbort = () => finish("closed");
      const timer = setTimeout(() => finish("timeout"), timeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiter = finish;
    });
  }

  /** Takes everything queued so far. */
  take(): Delivery {
    const delivery = { changes: this.queue, watermark: this.watermark, overflowed: this.overflowed };
    this.queue = [];
    this.overflowed = false;
    return delivery;
  }

  /**
   * With nothing queued, every change published up to the watermark has been
   * taken: the reader may advance its checkpoint to it without a wake-up per
   * commit. Undefined while changes wait.
   */
  idleWatermark(): bigint | undefined {
    return this.queue.length === 0 && !this.overflowed ? this.watermark : undefined;
  }

  /** Changes up to `watermark` may have been committed unseen: the reader must catch up from storage. */
  resync(watermark: bigint): void {
    this.watermark = watermark;
    this.queue = [];
    this.overflowed = true;
    this.waiter?.("changes");
  }

  offer(changes: readonly ChangeEvent[], watermark: bigint): void {
    this.watermark = watermark;
    // A commit in other collections only moves the watermark: no wake-up, so
    // thousands of idle subscribers cost nothing per unrelated commit.
    if (changes.length === 0 || this.overflowed) return;
    if (this.queue.length + changes.length > this.maxQueued) {
      this.queue = [];
      this.overflowed = true;
    } else {
      for (const change of changes) this.queue.push(change);
    }
    this.waiter?.("changes");
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.detach(this);
    this.waiter?.("closed");
  }
}

export class FanoutHub {
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly options: { maxQueuedChanges: number } = { maxQueuedChanges: 1000 }) {}

  get size(): number {
    return this.subscriptions.size;
  }

  subscribe(collections: Iterable<string>): Subscription {
    const subscription = new Subscription(new Set(collections), this.options.maxQueuedChanges, (s) => this.subscriptions.delete(s));
    this.subscriptions.add(subscription);
    return subscription;
  }

  /**
   * Fans a commit out. With `complete` false, changes up to the watermark
   * may be missing from `committed` (see CommitListener): every subscriber
   * then catches up from storage instead.
   */
  publish(committed: readonly StoredChange[], watermark: bigint, complete = true): void {
    if (this.subscriptions.size === 0) return;
    if (!complete) {
      for (const subscription of this.subscriptions) subscription.resync(watermark);
      return;
    }
    const byCollection = new Map<string, ChangeEvent[]>();
    for (const { event } of committed) {
      const list = byCollection.get(event.collection);
      if (list) list.push(event);
      else byCollection.set(event.collection, [event]);
    }
    for (const subscription of this.subscriptions) {
      let matching: ChangeEvent[] = [];
      for (const collection of subscription.collections) {
        const list = byCollection.get(collection);
        if (list) matching = matching.length ? mergeBySequence(matching, list) : list;
      }
      // Every subscriber hears the watermark, so idle collections advance too
      // (taken up at the next heartbeat).
      subscription.offer(matching, watermark);
    }
  }

  /** Ends every subscription (server shutdown): streams finish cleanly. */
  closeAll(): void {
    for (const subscription of [...this.subscriptions]) subscription.close();
  }
}

function mergeBySequence(a: readonly ChangeEvent[], b: readonly ChangeEvent[]): ChangeEvent[] {
  return [...a, ...b].sort((x, y) => (x.serverSequence < y.serverSequence ? -1 : 1));
}
