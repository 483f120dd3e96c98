// Applying server changes: never added to the outbox, never over a pending
// local change (§9.5), stored with the checkpoint they lead to (§9.4); and the
// end of a resync (§8.4).
import type { ApplyOptions, RemoteChange } from "../store.js";
import { checkpointOp } from "./checkpoint.js";
import type { DbCore } from "./core.js";
import { docKey, serverStateOf, type BatchOp, type DocRecord } from "./records.js";
import type { ChangeEvent } from "./types.js";

export async function applyRemote(core: DbCore, changes: readonly RemoteChange[], checkpoint: Uint8Array | undefined, options: ApplyOptions): Promise<void> {
  const ops: BatchOp[] = [];
  const events: ChangeEvent[] = [];
  const staged = new Map<string, DocRecord | undefined>();
  for (const change of changes) {
    const key = docKey(change.collection, change.documentId);
    const record = staged.has(key) ? staged.get(key) : await core.record(change.collection, change.documentId);
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
      next = { doc: change.document, rev: change.revision, ts: server.ts, by: change.clientId, base: change.revision, baseDoc: change.document, server };
      core.feed.remoteEvent(change.collection, change.documentId, record, next, events);
    }
    staged.set(key, next);
    ops.push({ type: "put", key, value: JSON.stringify(next) });
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
  const events: ChangeEvent[] = [];
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
