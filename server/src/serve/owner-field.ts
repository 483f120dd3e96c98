// A per-document read rule the command line can express: a document whose
// top-level OWNER field is a string belongs to the principal of that id, and
// only that principal reads it; other documents follow the collection scopes.
// With it the server delivers move-in and move-out (PROTOCOL §13.6).
import type { Authorize } from "../core/sync-core.js";
import { scopeAuthorize } from "./auth.js";

/** A top-level key a document may carry: not empty, not one of the reserved keys (PROTOCOL §3.3). */
export function ownerFieldProblem(field: string): string | undefined {
  if (field === "") return "must not be empty";
  if (field === "_id" || field === "_rev" || field === "_deleted") return `"${field}" is a reserved key`;
  return undefined;
}

export function ownerFieldAuthorize(field: string): Authorize {
  return (principal, action, collection, change) => {
    if (!scopeAuthorize(principal, action, collection, change)) return false;
    // Writes are judged by the state they overwrite (§13.4), read below; a
    // principal may give its document away.
    if (action === "write" || !change || change.deleted) return true;
    const owner = ownerOf(change.document, field);
    return owner === undefined || owner === principal.id;
  };
}

/** The document's owner, or undefined when the field is absent or not a string. */
function ownerOf(document: string, field: string): string | undefined {
  const value: unknown = (JSON.parse(document) as Record<string, unknown>)[field];
  return typeof value === "string" ? value : undefined;
}
