// What every storage checks of a commit group's batch before writing it: its
// sequences lie in the range the group held. A batch outside it is a bug in
// the caller, and writing it would break PROTOCOL §4.2 for every reader, so
// it is refused whole.
import type { CommitBatch } from "./types.js";

/** Throws unless every change of `batch` has a sequence in (after, batch.lastSequence]. */
export function checkBatchSequences(batch: CommitBatch, after: bigint): void {
  if (batch.lastSequence < after) {
    throw new Error(`commit batch ends at sequence ${batch.lastSequence}, below the ${after} already committed`);
  }
  for (const { event } of batch.changes) {
    if (event.serverSequence <= after || event.serverSequence > batch.lastSequence) {
      throw new Error(`commit batch holds sequence ${event.serverSequence}, outside the group's (${after}, ${batch.lastSequence}]`);
    }
  }
  for (const entry of batch.index ?? []) {
    if (entry.sequence <= after || entry.sequence > batch.lastSequence) {
      throw new Error(`commit batch holds an index entry at sequence ${entry.sequence}, outside the group's (${after}, ${batch.lastSequence}]`);
    }
    // Key parts are separated by NUL in LevelDB; canonical values never hold a raw one.
    if (entry.field.includes("\u0000") || entry.value.includes("\u0000")) {
      throw new Error(`commit batch holds an index entry of field ${JSON.stringify(entry.field)} with a NUL character`);
    }
  }
}

/** Whether the batch writes anything at all. */
export function writesAnything(batch: CommitBatch | undefined): batch is CommitBatch {
  return !!batch && (batch.changes.length > 0 || batch.idempotency.length > 0 || (batch.history?.length ?? 0) > 0 || (batch.superseded?.length ?? 0) > 0 || (batch.owners?.length ?? 0) > 0 || (batch.index?.length ?? 0) > 0);
}

/** The last entry per key wins, keeping the order of last writes (as a LevelDB batch does). */
export function lastByKey<T>(items: readonly T[], key: (item: T) => string): T[] {
  const map = new Map<string, T>();
  for (const item of items) {
    const k = key(item);
    map.delete(k);
    map.set(k, item);
  }
  return [...map.values()];
}

/** Runs tasks one after another (a commit group, a purge), whatever their callers. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
