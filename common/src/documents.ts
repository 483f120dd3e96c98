// Documents on the wire are JSON text whose top-level value is an object
// (docs/PROTOCOL.md §3).
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Keys the client keeps locally and never sends inside a document. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(["_id", "_rev", "_deleted"]);

export type DocumentProblem = { kind: "not-json" | "not-object" | "reserved-key"; message: string };

/** Parses document text, or says precisely why it is not a valid document. */
export function parseDocument(text: string): { ok: true; value: JsonObject } | { ok: false; problem: DocumentProblem } {
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

/** Structural equality of JSON values; object key order does not matter. */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  if (typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bArr = b as JsonValue[];
    return a.length === bArr.length && a.every((v, i) => jsonEqual(v, bArr[i]));
  }
  const aObj = a as JsonObject;
  const bObj = b as JsonObject;
  const aKeys = Object.keys(aObj);
  if (aKeys.length !== Object.keys(bObj).length) return false;
  return aKeys.every((k) => Object.prototype.hasOwnProperty.call(bObj, k) && jsonEqual(aObj[k], bObj[k]));
}
