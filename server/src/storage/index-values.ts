// The values a field index is keyed by, and which (collection, field) pairs
// are indexed. Pure, no I/O: the core computes a commit's index entries with
// these, and every storage keys its entries by the very same text, so a
// filter value and a document's field agree byte for byte.
//
// A value is canonical JSON text of a scalar: a string as JSON.stringify
// writes it, a number as JSON.stringify writes the IEEE double JSON.parse
// reads (so `1`, `1.0` and `1e0` are one value, and so are `-0` and `0`;
// integers beyond 2^53 compare as the doubles they round to, as in
// JavaScript: 9007199254740993 equals 9007199254740992), `true`, `false` or
// `null`. A number too large for a double (1e400) is `Infinity` or
// `-Infinity`: not JSON, so it cannot collide with any other value.

/** A (collection, field) pair to index; collection "*" means every collection. */
export interface IndexSpec {
  readonly collection: string;
  readonly field: string;
}

/** The collection name rule of the protocol (sync.proto), and the wildcard. */
const COLLECTION = /^[A-Za-z][A-Za-z0-9_-]*$/;
const MAX_COLLECTION = 64;
const MAX_FIELD = 128;

/** The canonical text of a parsed JSON value if it is a scalar, else undefined. */
function canonicalOf(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : value > 0 ? "Infinity" : "-Infinity";
    case "boolean":
      return value ? "true" : "false";
    case "object":
      return value === null ? "null" : undefined;
    default:
      return undefined;
  }
}

/** The parsed object a document's text holds, or undefined (a tombstone, not JSON, not an object). */
function parseObject(document: string): Record<string, unknown> | undefined {
  if (document === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    return undefined;
  }
  return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
}

/**
 * The canonical values of the top-level `fields` of a JSON object document
 * (parsed once), for those that hold a scalar. A field that is missing, an
 * object or an array, and every field of a tombstone (empty text) or of a
 * document that is not a JSON object, has none. Only own fields count: a
 * document without "constructor" has no "constructor". With a key written
 * twice, the last one counts, as in JSON.parse.
 */
export function fieldValues(document: string, fields: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  if (fields.length === 0) return values;
  const object = parseObject(document);
  if (!object) return values;
  for (const field of fields) {
    if (!Object.hasOwn(object, field)) continue;
    const value = canonicalOf(object[field]);
    if (value !== undefined) values.set(field, value);
  }
  return values;
}

/** The canonical value of one top-level field (see fieldValues); parses the document. */
export function fieldValue(document: string, field: string): string | undefined {
  return fieldValues(document, [field]).get(field);
}

/** The canonical form of a filter value given as JSON text; undefined unless it is one JSON scalar. */
export function canonicalValue(jsonScalarText: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(jsonScalarText);
  } catch {
    return undefined;
  }
  return canonicalOf(parsed);
}

/** "todos.listId", "*.ownerId": how a spec is written on the command line and persisted. */
export const specKey = (spec: IndexSpec): string => `${spec.collection}.${spec.field}`;

/**
 * Parses the command-line form `todos.listId,*.ownerId`: comma-separated
 * `collection.field` pairs, the field being everything after the first dot
 * (collection names hold no dot). A pair given twice counts once. Throws an
 * Error with a one-line message naming the bad part.
 */
export function parseIndexSpecs(text: string): IndexSpec[] {
  const specs = new Map<string, IndexSpec>();
  for (const raw of text.split(",")) {
    const part = raw.trim();
    if (part === "") throw new Error(`index list "${text}" has an empty entry: write collection.field pairs separated by commas`);
    const dot = part.indexOf(".");
    if (dot < 0) throw new Error(`index "${part}" has no dot: write collection.field (or *.field for every collection)`);
    const spec = { collection: part.slice(0, dot), field: part.slice(dot + 1) };
    const problem = specProblem(spec);
    if (problem) throw new Error(`index "${part}": ${problem}`);
    specs.set(specKey(spec), spec);
  }
  return [...specs.values()];
}

/** What is wrong with a spec, or undefined. */
function specProblem(spec: IndexSpec): string | undefined {
  if (spec.collection !== "*" && (!COLLECTION.test(spec.collection) || spec.collection.length > MAX_COLLECTION)) {
    return `"${spec.collection}" is not a collection name (a letter, then letters, digits, _ or -; at most ${MAX_COLLECTION}) nor *`;
  }
  const length = [...spec.field].length;
  if (length === 0 || length > MAX_FIELD) return `the field name must hold 1 to ${MAX_FIELD} characters`;
  // Storages separate key parts with NUL (JSON text never holds a raw one).
  if (spec.field.includes("\u0000")) return "the field name holds a NUL character";
  return undefined;
}

/** Throws unless `spec` is one parseIndexSpecs could have given (storages check what they are handed). */
export function checkIndexSpec(spec: IndexSpec): void {
  const problem = specProblem(spec);
  if (problem) throw new Error(`index ${JSON.stringify(specKey(spec))}: ${problem}`);
}

/** Whether `spec` indexes `field` of `collection`. */
export const covers = (spec: IndexSpec, collection: string, field: string): boolean =>
  spec.field === field && (spec.collection === "*" || spec.collection === collection);

/** The fields of `collection` that `specs` index, each once, in the order first given. */
export function indexedFields(specs: readonly IndexSpec[], collection: string): string[] {
  const fields = new Set<string>();
  for (const spec of specs) if (spec.collection === "*" || spec.collection === collection) fields.add(spec.field);
  return [...fields];
}

/** The specs as one text, order-free: what servers sharing a database compare. */
export const specSetKey = (specs: readonly IndexSpec[]): string => JSON.stringify([...new Set(specs.map(specKey))].sort());
