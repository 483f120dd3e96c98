// Applying server changes: never added to the outbox, never over a pending
// local change (§9.5), stored with the checkpoint they lead to (§9.4); and the
// end of a resync (§8.4).
import type { ApplyOptions, RemoteChange } from "../store.js";
import { checkpointOp } from "./checkpoint.js";
import type { FeedEvents } from "./change-feed.js";
import type { DbCore } from "./core.js";
import { adopted, docKey, encodeRecord, readAllRecords, readRecordsByKey, serverStateOf, type BatchOp, type DocRecord } from "./records.js";

export async function applyRemote(core: DbCore, changes: readonly RemoteChange[], checkpoint: Uint8Array | undefined, options: ApplyOptions): Promise<void> {
  const ops: BatchOp[] = [];
  const events: FeedEvents = [];
  // Every document of the page in one read; a document met twice sees its staged state.
  const keys = changes.map((c) => docKey(c.collection, c.documentId));
  const stored = await readRecordsByKey(core.level, keys);
  const staged = new Map<string, DocRecord | undefined>();
  for (const [n, change] of changes.entries()) {
    const key = keys[n]!;
    const record = staged.has(key) ? staged.get(key) : stored[n];
    core.hlc.observe(change.timestamp);
    const known = record?.server;
    if (change.removed) {
      // It stands for the state of its own sequence, which this client may
      // know (its own write, acknowledged) but may not read: only a later
      // state makes it stale.
      if (!record || (known && !options.resync && BigInt(known.seq) > change.serverSequence)) continue;
      removeCopy(core, key, change, record, staged, ops, events);
      continue;
    }
    if (known && (known.rev === change.revision || (!options.resync && BigInt(known.seq) >= change.serverSequence))) continue;
    const server = serverStateOf(change);
    let next: DocRecord;
    if (record?.pending !== undefined) {
      next = { ...record, server }; // §9.5: keep the local state and its base revision
    } else if (record && record.rev === change.revision) {
      next = { ...record, server };
    } else {
      next = adopted(server);
      core.feed.remoteEvent(change.collection, change.documentId, record, next, events);
    }
    staged.set(key, next);
    ops.push({ type: "put", key, value: encodeRecord(next) });
  }
  if (checkpoint) ops.push(checkpointOp(checkpoint));
  await core.commit(ops, events);
}

/**
 * A removal (PROTOCOL §13.6): the copy is dropped, as if never received, and
 * nothing is pushed. A pending local change stays (without a server state):
 * its push is refused, and the refusal then drops it.
 */
function removeCopy(core: DbCore, key: string, change: RemoteChange, record: DocRecord, staged: Map<string, DocRecord | undefined>, ops: BatchOp[], events: FeedEvents): void {
  if (record.pending !== undefined) {
    const next: DocRecord = { ...record };
    delete next.server;
    staged.set(key, next);
    ops.push({ type: "put", key, value: encodeRecord(next) });
    return;
  }
  staged.set(key, undefined);
  ops.push({ type: "del", key });
  core.feed.remoteEvent(change.collection, change.documentId, record, undefined, events);
}

/**
 * Deletes the documents of `collections` (of every collection when empty) the
 * resync did not see (unless pending) and stores the checkpoint, atomically.
 */
export async function finishResync(
  core: DbCore,
  collections: readonly string[],
  seen: ReadonlyMap<string, ReadonlySet<string>>,
  checkpoint: Uint8Array,
): Promise<void> {
  const ops: BatchOp[] = [];
  const events: FeedEvents = [];
  const forget = (collection: string, id: string, record: DocRecord) => {
    if (record.pending !== undefined || seen.get(collection)?.has(id)) return;
    ops.push({ type: "del", key: docKey(collection, id) });
    core.feed.remoteEvent(collection, id, record, undefined, events);
  };
  if (collections.length === 0) {
    for await (const [collection, id, record] of readAllRecords(core.level)) forget(collection, id, record);
  }
  for (const collection of collections) {
    for await (const [id, record] of core.records(collection)) forget(collection, id, record);
  }
  ops.push(checkpointOp(checkpoint));
  await core.commit(ops, events);
}
