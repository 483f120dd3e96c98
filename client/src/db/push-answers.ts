// Storing the server's answer to a pushed change: accepted, settled by the
// server, settled here (rebase) or rejected. Each first checks that the
// document's pending change is still the one pushed (../store.ts promise 3).
import { jsonEqual, type JsonObject } from "../../../common/src/index.js";
import type { Acknowledgement, PendingChange, RemoteChange } from "../store.js";
import type { FeedEvents } from "./change-feed.js";
import type { DbCore } from "./core.js";
import { cleanDocument } from "./documents.js";
import {
  adopted,
  decodeTs,
  docKey,
  encodeRecord,
  encodeTs,
  newerServer,
  putRecord,
  readRecordsByKey,
  serverStateOf,
  type BatchOp,
  type DocRecord,
  type ServerState,
} from "./records.js";

/** Replaces the local state with a server state, dropping the pending change. */
export function adoptOps(core: DbCore, collection: string, id: string, record: DocRecord, state: ServerState, events: FeedEvents): BatchOp[] {
  const ops: BatchOp[] = [];
  if (record.pending !== undefined) ops.push(core.outbox.drop(record.pending));
  const next = adopted(state);
  ops.push(putRecord(collection, id, next));
  core.feed.remoteEvent(collection, id, record, next, events);
  return ops;
}

/**
 * The record once the server accepted `change`: the server's state, unless a
 * newer local write replaced the change (then only its base moves) or a later
 * server state already arrived (then that one is adopted).
 */
function acknowledged(core: DbCore, record: DocRecord, { change, accepted }: Acknowledgement, mine: boolean): DocRecord {
  if (record.server && BigInt(record.server.seq) > accepted.serverSequence) {
    // A later server state already arrived (it was held back while this change was pending).
    return mine ? adopted(record.server) : { ...record, base: accepted.revision, baseDoc: change.document };
  }
  const server: ServerState = {
    rev: accepted.revision,
    seq: accepted.serverSequence.toString(),
    doc: change.document,
    ts: encodeTs(change.timestamp),
    by: core.clientId,
  };
  return mine ? adopted(server) : { ...record, base: accepted.revision, baseDoc: change.document, server };
}

/** Acknowledges the accepted changes of a push: one read, one atomic write. */
export async function acknowledgeAll(core: DbCore, acks: readonly Acknowledgement[]): Promise<void> {
  const keys = acks.map(({ change }) => docKey(change.collection, change.documentId));
  const records = await readRecordsByKey(core.level, keys);
  const staged = new Map<string, DocRecord>();
  const ops: BatchOp[] = [];
  const events: FeedEvents = [];
  acks.forEach((ack, n) => {
    const key = keys[n]!;
    const record = staged.get(key) ?? records[n];
    if (!record) return;
    const mine = record.pending === ack.change.clientSequence.toString();
    const next = acknowledged(core, record, ack, mine);
    if (mine) {
      ops.push(core.outbox.drop(record.pending!));
      core.feed.remoteEvent(ack.change.collection, ack.change.documentId, record, next, events);
    }
    ops.push({ type: "put", key, value: encodeRecord(next) });
    staged.set(key, next);
  });
  if (ops.length > 0) await core.commit(ops, events);
}

export async function adopt(core: DbCore, change: PendingChange, current: RemoteChange): Promise<void> {
  const { collection, documentId: id } = change;
  const record = await core.record(collection, id);
  if (!record) return;
  const state = newerServer(record.server, serverStateOf(current));
  core.hlc.observe(decodeTs(state.ts));
  const events: FeedEvents = [];
  const ops =
    record.pending === change.clientSequence.toString()
      ? adoptOps(core, collection, id, record, state, events)
      : [putRecord(collection, id, { ...record, server: state })];
  await core.commit(ops, events);
}

export async function rebase(core: DbCore, change: PendingChange, current: RemoteChange, document: JsonObject | null): Promise<boolean> {
  const { collection, documentId: id } = change;
  const record = await core.record(collection, id);
  if (!record) return false;
  const server = newerServer(record.server, serverStateOf(current));
  core.hlc.observe(current.timestamp);
  if (record.pending !== change.clientSequence.toString()) {
    await core.commit([putRecord(collection, id, { ...record, server })], []);
    return false;
  }
  const entry = core.outbox.enqueue(collection, id, record.pending);
  const ts = core.hlc.now();
  const next: DocRecord = {
    doc: document === null ? null : cleanDocument(document, "resolved document"),
    rev: `local-${core.feed.nextSequence}`,
    ts: encodeTs(ts),
    by: core.clientId,
    pending: entry.seq.toString(),
    base: current.revision,
    baseDoc: current.document,
    server,
  };
  const events: FeedEvents = [];
  if (!jsonEqual(record.doc, next.doc)) core.feed.remoteEvent(collection, id, record, next, events);
  else next.rev = record.rev;
  await core.commit([...entry.ops, putRecord(collection, id, next)], events, true);
  return true;
}

export async function reject(core: DbCore, change: PendingChange): Promise<void> {
  const { collection, documentId: id } = change;
  const record = await core.record(collection, id);
  if (!record || record.pending !== change.clientSequence.toString()) return;
  const events: FeedEvents = [];
  if (record.server) {
    await core.commit(adoptOps(core, collection, id, record, record.server, events), events);
    return;
  }
  core.feed.remoteEvent(collection, id, record, undefined, events);
  await core.commit([core.outbox.drop(record.pending), { type: "del", key: docKey(collection, id) }], events);
}
