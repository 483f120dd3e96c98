// Between the wire (generated protobuf messages) and the store's plain types.
import { create } from "@bufbuild/protobuf";
import { parseDocument, ZERO_TIMESTAMP } from "../../../common/src/index.js";
import { ChangeEventSchema, Operation, type ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { PendingChange, RemoteChange } from "../store.js";

/** A pending local change as pushed: reserved keys are already stripped by the store (PROTOCOL §3.3). */
export function toWire(change: PendingChange): ChangeEvent {
  const operation =
    change.document === null ? Operation.DELETE : change.baseRevision === "" ? Operation.INSERT : Operation.UPDATE;
  return create(ChangeEventSchema, {
    operation,
    collection: change.collection,
    documentId: change.documentId,
    document: change.document === null ? "" : JSON.stringify(change.document),
    baseRevision: change.baseRevision,
    clientSequence: change.clientSequence,
    timestamp: { wallTimeMs: change.timestamp.wallTimeMs, logical: change.timestamp.logical },
  });
}

/** A server change as the store takes it. */
export function fromWire(event: ChangeEvent): RemoteChange {
  let document = null;
  if (!event.deleted) {
    // What the server stored is applied as it is (it may predate the nesting
    // limit); the limit guards what is written.
    const parsed = parseDocument(event.document, { maxDepth: Infinity });
    if (!parsed.ok) throw new Error(`server sent an invalid document for ${event.collection}/${event.documentId}: ${parsed.problem.message}`);
    document = parsed.value;
  }
  return {
    collection: event.collection,
    documentId: event.documentId,
    document,
    revision: event.revision,
    serverSequence: event.serverSequence,
    timestamp: event.timestamp ? { wallTimeMs: event.timestamp.wallTimeMs, logical: event.timestamp.logical } : ZERO_TIMESTAMP,
    clientId: event.clientId,
    ...(event.removed ? { removed: true } : {}),
  };
}
