// What a committed change writes to the indexes filters are read from
// (PROTOCOL §4.11).
import type { ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { fieldValues } from "../storage/index-values.js";
import type { IndexEntry } from "../storage/types.js";

/** What a committed change means to the indexes of its collection. */
export interface Indexing {
  /** The entries to write with the change (PROTOCOL §4.11). */
  readonly entries: IndexEntry[];
  /**
   * The replaced state holds a value of an indexed field, so some filter may
   * have selected it: it must be kept to judge a removal (§13.6). Another
   * state no filter can select need not be kept, nor raise the purge
   * watermark for readers without filters when it is purged.
   */
  readonly previousSelectable: boolean;
}

/**
 * The index entries of a committed change: the indexed fields' values in the
 * new state, and those of the replaced state that differ, all at the
 * change's sequence.
 */
export function indexing(fields: readonly string[], event: ChangeEvent, previous: ChangeEvent | undefined): Indexing {
  const now = event.deleted ? new Map<string, string>() : fieldValues(event.document, fields);
  const before = previous && !previous.deleted ? fieldValues(previous.document, fields) : new Map<string, string>();
  const entry = (field: string, value: string): IndexEntry => ({
    collection: event.collection, field, value, sequence: event.serverSequence, documentId: event.documentId,
  });
  const entries: IndexEntry[] = [];
  for (const field of fields) {
    const value = now.get(field);
    const old = before.get(field);
    if (value !== undefined) entries.push(entry(field, value));
    if (old !== undefined && old !== value) entries.push(entry(field, old));
  }
  return { entries, previousSelectable: before.size > 0 };
}
