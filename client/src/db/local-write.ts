// A local write: the document (null = delete) and, with sync on, its outbox
// entry, in one atomic batch (PROTOCOL §9.1; ../store.ts promise 1).
import type { JsonObject } from "../../../common/src/index.js";
import type { DbCore } from "./core.js";
import { docKey, encodeTs, putRecord, toDoc, tombstone, type BatchOp, type DocRecord } from "./records.js";
import type { ChangeOperation } from "./types.js";

export type WriteMode = "insert" | "update" | "delete";

/** Writes one document; `update` and `delete` of a missing document write nothing (`after` is undefined). */
export async function writeLocal(
  core: DbCore,
  collection: string,
  id: string,
  next: JsonObject | null,
  mode: WriteMode,
): Promise<{ before: DocRecord | undefined; after: DocRecord | undefined }> {
  const before = await core.record(collection, id);
  const live = before !== undefined && before.doc !== null;
  if (mode === "insert" && live) throw new Error(`document ${collection}/${id} already exists`);
  if ((mode === "update" || mode === "delete") && !live) return { before, after: undefined };
  const ts = core.hlc.now();
  const ops: BatchOp[] = [];
  const previous = before ? toDoc(id, before) : null;
  const rev = `local-${core.feed.nextSequence}`;
  let after: DocRecord | undefined;
  if (!core.syncEnabled) {
    if (next === null) ops.push({ type: "del", key: docKey(collection, id) });
    else {
      after = { doc: next, rev, ts: encodeTs(ts), by: core.clientId, base: "" };
      ops.push(putRecord(collection, id, after));
    }
  } else {
    const entry = core.outbox.enqueue(collection, id, before?.pending);
    after = {
      doc: next,
      rev,
      ts: encodeTs(ts),
      by: core.clientId,
      pending: entry.seq.toString(),
      // A write over a pending one keeps that one's base: the server has seen neither.
      base: before?.pending !== undefined ? before.base : (before?.server?.rev ?? ""),
      ...(before?.pending !== undefined
        ? before.baseDoc !== undefined ? { baseDoc: before.baseDoc } : {}
        : before?.server ? { baseDoc: before.server.doc } : {}),
      ...(before?.server ? { server: before.server } : {}),
    };
    ops.push(...entry.ops, putRecord(collection, id, after));
  }
  const document = after && after.doc !== null ? toDoc(id, after) : tombstone(id, rev);
  const operation: ChangeOperation = next === null ? "delete" : live ? "update" : "insert";
  const event = core.feed.event(collection, operation, id, document, previous, ts, false);
  await core.commit(ops, [event], core.syncEnabled);
  return { before, after };
}
