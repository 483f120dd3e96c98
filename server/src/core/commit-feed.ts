// Publication of commits to this server's readers, in sequence order, whoever
// committed them. On a storage shared by several servers, this server's own
// commit groups and the others' interleave: the storage tells of the others'
// through "committed" events (positions only), and the changes are read from
// the storage once, here, for every local subscriber.
//
// The rule that keeps checkpoints safe (PROTOCOL §4.2, §5): a watermark is
// never published above a sequence whose changes have not been published. So
// an own group covering (10, 15] waits until (5, 10] (another server's) has
// been read and published; and while others' commits cannot be read (the
// database is away), nothing above what was published is announced.
import { backoffDelay } from "../../../common/src/backoff.js";
import type { Storage, StoredChange } from "../storage/types.js";

/**
 * Hears every publication, in sequence order. `complete` is false when
 * changes at or below `watermark` may be missing from `changes` (this server
 * cannot read others' commits from its storage): readers must then catch up
 * from storage.
 */
export type CommitListener = (changes: readonly StoredChange[], watermark: bigint, complete: boolean) => void;

/** A commit group of this server: sequences (after, lastSequence], its latest changes. */
export interface OwnCommit {
  readonly after: bigint;
  readonly lastSequence: bigint;
  readonly changes: readonly StoredChange[];
}

/** Changes read per query when catching up with others' commits. */
export const FEED_PAGE = 1_000;
/** Backoff between attempts to read others' commits while the storage fails. */
const RETRY_DELAY_MS = { first: 50, max: 3_000 } as const;

export class CommitFeed {
  /** Every commit at or below it has been published. */
  private published = 0n;
  /** Every sequence at or below it is committed. */
  private committed = 0n;
  /** Own groups not yet published, by increasing `after`. */
  private own: OwnCommit[] = [];
  private reading = false;
  private failures = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private readonly listeners = new Set<CommitListener>();

  constructor(private readonly storage: Pick<Storage, "readCommitted">) {}

  /** The highest sequence below which every commit has been published. */
  get watermark(): bigint {
    return this.published;
  }

  onPublish(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts from the storage's last sequence at open: readers catch up from storage below it. */
  start(lastSequence: bigint): void {
    this.published = lastSequence;
    this.committed = lastSequence;
  }

  /** This server committed a group. Published at once when everything before it has been. */
  ownCommit(commit: OwnCommit): void {
    if (commit.lastSequence <= this.published) return; // already read back from storage
    let at = this.own.length;
    while (at > 0 && this.own[at - 1]!.after > commit.after) at--;
    this.own.splice(at, 0, commit);
    this.raise(commit.lastSequence);
  }

  /** Every sequence up to `lastSequence` is committed (another server's commit, or a recovery). */
  committedUpTo(lastSequence: bigint): void {
    this.raise(lastSequence);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
  }

  private raise(lastSequence: bigint): void {
    if (lastSequence > this.committed) this.committed = lastSequence;
    this.advance();
  }

  /** Publishes as far as is known, in order; reads a gap from storage when one is in the way. */
  private advance(): void {
    while (!this.closed && !this.reading && this.published < this.committed) {
      while (this.own.length && this.own[0]!.lastSequence <= this.published) this.own.shift();
      const next = this.own[0];
      if (next && next.after <= this.published) {
        this.own.shift();
        const fresh = next.after === this.published ? next.changes : next.changes.filter((c) => c.event.serverSequence > this.published);
        this.announce(fresh, next.lastSequence, true);
        continue;
      }
      // Commits of others (or of this server, with an unknown outcome) lie
      // between what was published and what is known.
      if (!this.storage.readCommitted) {
        // They cannot be read here: readers catch up from storage instead.
        this.own = [];
        this.announce([], this.committed, false);
        return;
      }
      void this.readGap(next ? next.after : this.committed);
      return;
    }
  }

  private async readGap(upTo: bigint): Promise<void> {
    this.reading = true;
    const after = this.published;
    try {
      const { changes, lastSequence } = await this.storage.readCommitted!(after, upTo, FEED_PAGE);
      this.failures = 0;
      this.reading = false;
      if (this.closed) return;
      // A full page may stop short of `upTo`: publish up to its last change.
      const reached = changes.length === FEED_PAGE ? changes[changes.length - 1]!.event.serverSequence : lastSequence < upTo ? lastSequence : upTo;
      if (reached <= after) {
        // The storage holds less than it was said to (a notification ahead
        // of what this server can read yet): wait for the next event.
        if (this.own.length === 0) this.committed = after;
        return;
      }
      this.announce(changes, reached, true);
    } catch {
      this.reading = false;
      if (this.closed) return;
      // Nothing above what was published is announced until it can be read.
      this.failures++;
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.advance(), backoffDelay(this.failures, RETRY_DELAY_MS.first, RETRY_DELAY_MS.max));
      this.retry.unref?.();
      return;
    }
    this.advance();
  }

  private announce(changes: readonly StoredChange[], watermark: bigint, complete: boolean): void {
    this.published = watermark;
    for (const listener of this.listeners) listener(changes, watermark, complete);
  }
}
