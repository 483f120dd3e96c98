// The core's hold on its storage: opens it (retrying in the background while
// it is unreachable, so a server can start before its database), follows
// the storage's events, suspends the commit pipeline while writes cannot
// succeed and resumes it when they can again, and tells the commit feed how
// far the storage has committed (at open, after a recovery, and at every
// other server's commit). What it learns is published as the core's
// availability, which the serve layer turns into health status and log lines.
import { backoffDelay } from "../../../common/src/backoff.js";
import { isStorageUnavailable } from "../storage/errors.js";
import type { Storage, StorageEvent, StorageMeta } from "../storage/types.js";
import type { CommitFeed } from "./commit-feed.js";
import type { CommitPipeline } from "./pipeline.js";

export interface Availability {
  /** Whether pushes can be committed now. */
  readonly writable: boolean;
  /** Why not, when not writable. */
  readonly reason?: string;
  /** When not writable: the wait before the next attempt to recover, if one is scheduled. */
  readonly retryInMs?: number;
}

/** Backoff between attempts to open a storage that was unreachable at start. */
export const OPEN_RETRY_DELAY_MS = { first: 200, max: 3_000 } as const;

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class StorageLink {
  private state: Availability = { writable: false, reason: "opening the storage" };
  private readonly listeners = new Set<(availability: Availability) => void>();
  private epoch: string | undefined;
  private unwatch: (() => void) | undefined;
  private closed = false;
  private wakeRetry: (() => void) | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly pipeline: CommitPipeline,
    private readonly feed: CommitFeed,
    /** Runs once the storage opened, before anything is served from it (the indexes, built if new). */
    private readonly prepare: () => Promise<void> = async () => {},
  ) {}

  /** Identity of the data set, once opened. */
  get openedEpoch(): string | undefined {
    return this.epoch;
  }

  /** Whether the storage has been opened once: reads are possible, the epoch is known. */
  get isOpen(): boolean {
    return this.epoch !== undefined;
  }

  get availability(): Availability {
    return this.state;
  }

  /** Hears every change of availability, and every failed attempt to recover. */
  onChange(listener: (availability: Availability) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The first attempt to open. Resolves once open, or once the storage proved
   * unreachable (attempts then go on in the background). Rejects if it can
   * never open (misconfiguration, a schema still used by a server from before clustering).
   */
  async start(): Promise<void> {
    try {
      await this.opened(await this.storage.open());
    } catch (error) {
      if (!isStorageUnavailable(error)) throw error;
      void this.keepOpening(error);
    }
  }

  private async keepOpening(firstError: unknown): Promise<void> {
    let error = firstError;
    for (let attempt = 1; !this.closed; attempt++) {
      const delay = backoffDelay(attempt, OPEN_RETRY_DELAY_MS.first, OPEN_RETRY_DELAY_MS.max);
      this.publish({ writable: false, reason: message(error), retryInMs: Math.round(delay) });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeRetry = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeRetry = undefined;
      if (this.closed) return;
      try {
        await this.opened(await this.storage.open());
        return;
      } catch (failure) {
        // Once started, a server never gives up on its storage: even an
        // error that is not "unreachable" (say, a password changed while it
        // was down) may be fixed by an operator while it waits.
        error = failure;
      }
    }
  }

  private async opened(meta: StorageMeta): Promise<void> {
    if (this.closed) {
      await this.storage.close();
      return;
    }
    await this.prepare();
    // Preparing may have moved the data set on: a renamed read rule takes a sequence.
    meta = { ...meta, lastSequence: (await this.storage.readPosition()).lastSequence };
    this.epoch = meta.epoch;
    this.feed.start(meta.lastSequence);
    this.unwatch = this.storage.watch?.((event) => this.follow(event));
    await this.resume(meta);
  }

  private follow(event: StorageEvent): void {
    if (this.closed) return;
    if (event.kind === "committed") {
      this.feed.committedUpTo(event.lastSequence);
      return;
    }
    if (event.kind === "unavailable") {
      this.pipeline.suspend(event.reason);
      this.publish({ writable: false, reason: event.reason, retryInMs: event.retryInMs });
      return;
    }
    if (event.meta.epoch !== this.epoch) {
      // Someone replaced the data set under us: the checkpoints this server
      // gave out belong to the old one. Only a restart may switch.
      this.publish({
        writable: false,
        reason: `the storage now holds another data set (epoch ${event.meta.epoch}, was ${this.epoch}); restart the server to serve it`,
      });
      return;
    }
    void this.resume(event.meta);
  }

  private async resume(meta: StorageMeta): Promise<void> {
    if (meta.lastSequence < this.feed.watermark) {
      // Sequences readers were already given would be given again.
      this.pipeline.suspend(`the storage's last sequence ${meta.lastSequence} is below ${this.feed.watermark}, which readers were already given (was the database restored from a backup?)`);
      this.publish({ writable: false, reason: `cannot resume writing: the storage went back from sequence ${this.feed.watermark} to ${meta.lastSequence}` });
      return;
    }
    // What was committed while this server could not hear of it is read and
    // published before anything newer.
    this.feed.committedUpTo(meta.lastSequence);
    if (await this.pipeline.resume()) this.publish({ writable: true });
  }

  private publish(state: Availability): void {
    this.state = state;
    for (const listener of this.listeners) listener(state);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeRetry?.();
    this.unwatch?.();
    this.feed.close();
    this.publish({ writable: false, reason: "the server is shutting down" });
  }
}
