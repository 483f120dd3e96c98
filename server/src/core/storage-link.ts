// The core's hold on its storage: opens it (retrying in the background while
// it is unreachable, so a server can start before its database), follows
// the storage's availability events, suspends the commit pipeline while
// writes cannot succeed, and resumes it from the metadata as persisted when
// they can again. What it learns is published as the core's availability,
// which the serve layer turns into health status and log lines.
import { backoffDelay } from "../../../common/src/backoff.js";
import { isStorageUnavailable } from "../storage/errors.js";
import type { Storage, StorageEvent, StorageMeta } from "../storage/types.js";
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
    /** Takes up metadata read at open or after a recovery (e.g. purge watermarks). */
    private readonly adopt: (meta: StorageMeta) => void,
  ) {}

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
   * never open (misconfiguration, a schema held by another server).
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
    this.epoch = meta.epoch;
    this.unwatch = this.storage.watch?.((event) => this.follow(event));
    await this.resume(meta);
  }

  private follow(event: StorageEvent): void {
    if (this.closed) return;
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
    this.adopt(meta);
    try {
      if (await this.pipeline.resume(meta.lastSequence)) this.publish({ writable: true });
    } catch (error) {
      this.publish({ writable: false, reason: message(error) });
    }
  }

  private publish(state: Availability): void {
    this.state = state;
    for (const listener of this.listeners) listener(state);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeRetry?.();
    this.unwatch?.();
    this.publish({ writable: false, reason: "the server is shutting down" });
  }
}
