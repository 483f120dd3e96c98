// Conflict strategies (docs/PROTOCOL.md §7), shared by the server, which
// settles conflicts at push time, and the client, which settles the ones the
// server reports back. Both sides call the same function with the same roles,
// so a strategy means the same thing wherever it runs.
import { compareTimestamps, type Timestamp } from "./hlc.js";
import { jsonEqual, type JsonObject } from "./json.js";

export type ConflictStrategyName = "last-write-wins" | "server-wins" | "client-wins" | "merge";

/** One side of a conflict. `document` is null for a tombstone. */
export interface ConflictSide {
  readonly document: JsonObject | null;
  readonly timestamp: Timestamp;
  readonly clientId: string;
}

export interface Conflict {
  readonly collection: string;
  readonly documentId: string;
  /** The client's change: on the server, the pushed change; on a client, its local state. */
  readonly client: ConflictSide;
  /** The server's current state of the document. */
  readonly server: ConflictSide;
  /** The document both sides started from, when known (enables three-way merge). */
  readonly base?: JsonObject | null;
}

export type Resolution =
  | { readonly winner: "server" }
  | { readonly winner: "client" }
  /** A new state built from both sides; null means deleted. */
  | { readonly winner: "merged"; readonly document: JsonObject | null };

export type ConflictResolver = (conflict: Conflict) => Resolution | Promise<Resolution>;

export function clientIsLater(conflict: Conflict): boolean {
  const { client, server } = conflict;
  return compareTimestamps(client.timestamp, client.clientId, server.timestamp, server.clientId) > 0;
}

/**
 * Field-level merge of top-level keys. Where the base is known it is three-way:
 * a key only one side changed takes that side's value. Keys both sides changed
 * (or any key, without a base) take the value of the later change. A delete
 * meets an edit by timestamp: the later one wins.
 */
export function mergeDocuments(conflict: Conflict): JsonObject | null {
  const { client, server, base } = conflict;
  const clientLater = clientIsLater(conflict);
  if (client.document === null || server.document === null) {
    return clientLater ? client.document : server.document;
  }
  const merged: JsonObject = {};
  const keys = new Set([...Object.keys(server.document), ...Object.keys(client.document)]);
  for (const key of keys) {
    const has = (doc: JsonObject | null | undefined) => doc != null && Object.prototype.hasOwnProperty.call(doc, key);
    const clientChanged = base ? has(client.document) !== has(base) || !jsonEqual(client.document[key], base[key]) : true;
    const serverChanged = base ? has(server.document) !== has(base) || !jsonEqual(server.document[key], base[key]) : true;
    let source: JsonObject;
    if (base && clientChanged && !serverChanged) source = client.document;
    else if (base && serverChanged && !clientChanged) source = server.document;
    else if (!base && has(client.document) !== has(server.document)) {
      // Two-way: a key only one side has was added by it (we cannot tell a removal apart).
      source = has(client.document) ? client.document : server.document;
    } else source = clientLater ? client.document : server.document;
    if (has(source)) merged[key] = source[key]!;
  }
  return merged;
}

export const builtInResolvers: Readonly<Record<ConflictStrategyName, ConflictResolver>> = {
  "last-write-wins": (c) => (clientIsLater(c) ? { winner: "client" } : { winner: "server" }),
  "server-wins": () => ({ winner: "server" }),
  "client-wins": () => ({ winner: "client" }),
  merge: (c) => ({ winner: "merged", document: mergeDocuments(c) }),
};

export function isConflictStrategyName(name: string): name is ConflictStrategyName {
  return Object.prototype.hasOwnProperty.call(builtInResolvers, name);
}
