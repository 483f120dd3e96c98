// Applying server changes: never added to the outbox, never over a pending
// local change (§9.5), stored with the checkpoint they lead to (§9.4); and the
// end of a resync (§8.4).
import type { ApplyOptions, RemoteChange } from "../store.js";
import { checkpointOp } from "./checkpoint.js";
import type { FeedEvents } from "./change-feed.js";
import type { DbCore } from "./core.js";
import { adopted, docKey, encodeRecord, readRecordsByKey, serverStateOf, type BatchOp, type DocRecord } from "./records.js";

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

/** Deletes the documents of `collections` the resync did not see (unless pending) and stores the checkpoint, atomically. */
export async function finishResync(
  core: DbCore,
  collections: readonly string[],
  seen: ReadonlyMap<string, ReadonlySet<string>>,
  checkpoint: Uint8Array,
): Promise<void> {
  const ops: BatchOp[] = [];
  const events: FeedEvents = [];
  for (const collection of collections) {
    const ids = seen.get(collection);
    for await (const [id, record] of core.records(collection)) {
      if (record.pending !== undefined || ids?.has(id)) continue;
      ops.push({ type: "del", key: docKey(collection, id) });
      core.feed.remoteEvent(collection, id, record, undefined, events);
    }
  }
  ops.push(checkpointOp(checkpoint));
  await core.commit(ops, events);
}
