// What the application may store: schema limits (docs/PROTOCOL.md §14), checked
// at write time so that a change the server would refuse whole never reaches
// the outbox, and random ids.
import {
  COLLECTION_NAME,
  DOCUMENT_ID,
  MAX_DOCUMENT_DEPTH,
  RESERVED_KEYS,
  nestingExceeds,
  stringifyJson,
  type JsonObject,
} from "../../../common/src/index.js";

const MAX_DOCUMENT_BYTES = 1024 * 1024;

export function checkCollectionName(name: string): string {
  if (!COLLECTION_NAME.test(name)) throw new TypeError(`invalid collection name ${JSON.stringify(name)}: must match ${COLLECTION_NAME}`);
  return name;
}

export function checkId(id: unknown): string {
  if (typeof id !== "string" || !DOCUMENT_ID.test(id)) throw new TypeError(`invalid document id ${JSON.stringify(id)}: must match ${DOCUMENT_ID}`);
  return id;
}

/** Copies a document without reserved keys, as plain JSON (undefined fields dropped). */
export function cleanDocument(value: object, what: string): JsonObject {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new TypeError(`${what} must be a plain object`);
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (!RESERVED_KEYS.has(k)) fields[k] = v;
  const text = stringifyJson(fields as JsonObject); // iterative: any depth gets the clear error below
  if (new TextEncoder().encode(text).length > MAX_DOCUMENT_BYTES) throw new RangeError(`${what} is larger than 1 MiB`);
  if (nestingExceeds(text, MAX_DOCUMENT_DEPTH)) throw new RangeError(`${what} nests objects and arrays more than ${MAX_DOCUMENT_DEPTH} levels deep`);
  return JSON.parse(text) as JsonObject;
}

export function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buf);
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
}
