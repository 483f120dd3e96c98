// What a committed change writes to the indexes filters are read from
// (PROTOCOL §4.11).
import type { ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { fieldValues } from "../storage/index-values.js";
import type { IndexEntry } from "../storage/types.js";

/**
 * The index entries of a committed change (PROTOCOL §4.11): the indexed
 * fields' values in the new state, and those of the replaced state that
 * differ, all at the change's sequence.
 */
export function indexEntries(fields: readonly string[], event: ChangeEvent, previous: ChangeEvent | undefined): IndexEntry[] {
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
  return entries;
}
