// Which collections a pull or subscribe reads, and whether its checkpoint can
// be resumed for them (PROTOCOL §4.8, §8.3). Pure decisions over what the
// core knows; the core throws the failures.
import type { Checkpoint } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { ErrorReason, SyncFailure } from "./failures.js";

/**
 * With no collection named: every stored collection (`listed`) and every one
 * with a purge watermark, which may hold no change any more but must still
 * refuse a checkpoint from before its purge (§4.9, §8.3).
 */
export function everyCollection(listed: readonly string[], purgedThrough: Readonly<Record<string, bigint>>): string[] {
  return [...new Set([...listed, ...Object.keys(purgedThrough)])];
}

/**
 * Collections the checkpoint has read (a position above 0) that are not
 * among those the reader may read now: candidates for a lost grant.
 */
export function unlistedPositions(readable: readonly string[], checkpoint: Checkpoint | undefined): string[] {
  if (!checkpoint) return [];
  return Object.entries(checkpoint.collections).filter(([c, position]) => position > 0n && !readable.includes(c)).map(([c]) => c);
}

/**
 * A reader that names no collection lost its grant to `lost`: it may hold
 * their documents, so it resyncs them (§4.8, §8.4), which drops its copies
 * and its positions for them.
 */
export function grantLost(lost: readonly string[]): SyncFailure {
  return new SyncFailure(
    "failed_precondition",
    ErrorReason.RESYNC_REQUIRED,
    `the principal may no longer read ${lost.join(", ")}: pull every collection again from the beginning`,
    [],
    { collections: lost.join(",") },
  );
}

/** The data set a checkpoint is judged against: its identity and committed position. */
export interface DataSet {
  readonly epoch: string;
  readonly purgedThrough: Readonly<Record<string, bigint>>;
  /** The highest sequence committed: a position above it was never given out by this data set. */
  readonly lastSequence: bigint;
}

/**
 * Throws RESYNC_REQUIRED when `checkpoint` cannot be resumed for
 * `collections`. `every`: the request named no collection, so the
 * collections the checkpoint holds are judged too, listed or not, and a
 * checkpoint of another epoch is refused even when there is none (§4.8).
 */
export function ensureResumable(collections: readonly string[], checkpoint: Checkpoint | undefined, every: boolean, data: DataSet): void {
  if (!checkpoint) return;
  if (every) collections = [...new Set([...collections, ...Object.keys(checkpoint.collections)])];
  const foreign = checkpoint.epoch !== "" && checkpoint.epoch !== data.epoch;
  const stale = foreign
    ? [...collections]
    : collections.filter((c) => {
        const position = checkpoint.collections[c] ?? 0n;
        if (position === 0n) return false;
        if (position > data.lastSequence) return true;
        // A purged tombstone or superseded state above the position may have
        // changed what the client holds, unless the client's pull of the
        // collection began (from its start) after it was written (§4.5).
        const since = checkpoint.pagingSince[c] ?? 0n;
        return (data.purgedThrough[c] ?? 0n) > (since > position ? since : position);
      });
  if (stale.length > 0 || foreign) throw resyncRequired(stale);
}

/** RESYNC_REQUIRED for `stale`: the checkpoint can no longer be resumed for them (§8.3). */
export function resyncRequired(stale: readonly string[]): SyncFailure {
  return new SyncFailure(
    "failed_precondition",
    ErrorReason.RESYNC_REQUIRED,
    `checkpoint can no longer be resumed for ${stale.join(", ")}: pull ${stale.length > 1 ? "them" : "it"} again from the beginning`,
    [],
    { collections: stale.join(",") },
  );
}
