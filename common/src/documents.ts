// Documents on the wire are JSON text whose top-level value is an object
// (docs/PROTOCOL.md §3).
import { nestingExceeds, type JsonObject } from "./json.js";

/** Keys the client keeps locally and never sends inside a document. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(["_id", "_rev", "_deleted"]);

/**
 * Deepest nesting of objects and arrays a document may have, the top-level
 * object being level 1 (PROTOCOL §3.4). Real documents, rich text trees
 * included, stay well below it; it keeps every implementation far from where
 * recursive JSON code overflows its stack (a few thousand levels in V8,
 * about a thousand in CPython).
 */
export const MAX_DOCUMENT_DEPTH = 100;

export type DocumentProblem = { kind: "not-json" | "not-object" | "reserved-key" | "too-deep"; message: string };

export interface ParseDocumentOptions {
  /**
   * Nesting limit; default MAX_DOCUMENT_DEPTH. Infinity reads a document
   * already stored (it may predate the limit) rather than one being written.
   */
  readonly maxDepth?: number;
}

/** Parses document text, or says precisely why it is not a valid document. */
export function parseDocument(text: string, options: ParseDocumentOptions = {}): { ok: true; value: JsonObject } | { ok: false; problem: DocumentProblem } {
  const maxDepth = options.maxDepth ?? MAX_DOCUMENT_DEPTH;
  // Before parsing: a hostile document is refused before it is built.
  if (maxDepth !== Infinity && nestingExceeds(text, maxDepth)) {
    return { ok: false, problem: { kind: "too-deep", message: `document nests objects and arrays more than ${maxDepth} levels deep` } };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, problem: { kind: "not-json", message: `document is not valid JSON: ${(e as Error).message}` } };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { ok: false, problem: { kind: "not-object", message: "document must be a JSON object" } };
  }
  for (const key of Object.keys(value)) {
    if (RESERVED_KEYS.has(key)) {
      return { ok: false, problem: { kind: "reserved-key", message: `document must not contain the reserved key "${key}"` } };
    }
  }
  return { ok: true, value: value as JsonObject };
}
