// Settling the conflicts the server reports back to the client (PROTOCOL §7.1)
// with the configured strategy or the application's resolver.
import { builtInResolvers, jsonEqual, type Conflict, type JsonObject, type Resolution } from "../../../common/src/index.js";
import type { ChangeEvent as WireChange } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { PendingChange, RemoteChange } from "../store.js";
import type { EngineContext } from "./context.js";

/** Settles a conflict the server reported and stores the outcome: the server's state, or a rebased local change. */
export async function resolveConflict(ctx: EngineContext, change: PendingChange, current: RemoteChange): Promise<void> {
  const conflict: Conflict = {
    collection: change.collection,
    documentId: change.documentId,
    client: { document: change.document, timestamp: change.timestamp, clientId: ctx.clientId },
    server: { document: current.document, timestamp: current.timestamp, clientId: current.clientId },
    ...(change.baseDocument !== undefined ? { base: change.baseDocument } : {}),
  };
  const { strategy, resolver } = ctx.settings;
  let resolution: Resolution;
  if (strategy === "custom") {
    const out = await resolver!({
      ...conflict,
      localDocument: change.document === null ? null : { ...change.document, _id: change.documentId },
      remoteDocument: current.document === null ? null : { ...current.document, _id: current.documentId, _rev: current.revision },
    });
    resolution = asResolution(out);
  } else {
    resolution = await builtInResolvers[strategy](conflict);
  }
  const document = resolution.winner === "server" ? current.document : resolution.winner === "client" ? change.document : resolution.document;
  if (resolution.winner === "server" || jsonEqual(document, current.document)) {
    await ctx.store.adoptServerState(change, current);
  } else {
    await ctx.store.rebase(change, current, document);
  }
}

/** Conflict and Resolved carry the current state; make sure it names the document. */
export function withIdentity(current: WireChange, change: PendingChange): WireChange {
  if (current.collection && current.documentId) return current;
  return { ...current, collection: change.collection, documentId: change.documentId };
}

/** A custom resolver's answer as a Resolution: either one already, or the seed's resolved document. */
function asResolution(out: Resolution | JsonObject | null): Resolution {
  if (out !== null && typeof out === "object" && "winner" in out) {
    const keys = Object.keys(out);
    const w = (out as { winner: unknown }).winner;
    if ((w === "server" || w === "client") && keys.length === 1) return out as Resolution;
    if (w === "merged" && keys.every((k) => k === "winner" || k === "document")) return out as Resolution;
  }
  if (out === null) return { winner: "merged", document: null };
  const document: JsonObject = {};
  for (const [k, v] of Object.entries(out as JsonObject)) if (k !== "_id" && k !== "_rev" && k !== "_deleted") document[k] = v;
  return { winner: "merged", document };
}
