// What the engine reads from the server: the `collections` option, checked
// once when the engine is created, and the `collections` and `filters` fields
// every Pull and Subscribe carries (PROTOCOL §4.8, §4.10). A mistake in the
// option is a TypeError at createSyncEngine, never a refused call later.
import { create } from "@bufbuild/protobuf";
import { COLLECTION_NAME } from "../../../common/src/index.js";
import { FieldConditionSchema, FilterSchema, type Filter } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { SyncCollection, SyncFilterValue } from "./types.js";

// The schema's limits (PROTOCOL §14).
const MAX_COLLECTIONS = 64;
const MAX_CONDITIONS = 8;
const MAX_VALUES = 100;
const MAX_FIELD_LENGTH = 128;
const MAX_VALUE_LENGTH = 1024;
// Local metadata the server never sees in a document (§3.3): a filter on one matches nothing.
const RESERVED = new Set(["_id", "_rev", "_deleted"]);
const ENTRY_KEYS = new Set(["name", "filter"]);
/** The entry that stands for every collection the token may read. */
const EVERY = "*";

export interface SyncScope {
  /** The collection names; empty: every collection the token may read (§4.8). */
  readonly collections: string[];
  /** The wire filter of each filtered collection. */
  readonly filters: Record<string, Filter>;
}

const fail = (where: string, problem: string): never => {
  throw new TypeError(`createSyncEngine: ${where}: ${problem}`);
};

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/** Checks the `collections` option and turns it into what requests carry. */
export function resolveScope(option: readonly SyncCollection[] | undefined): SyncScope {
  if (option === undefined) return { collections: [], filters: {} };
  if (!Array.isArray(option)) fail("collections", "must be an array of collection names or { name, filter } entries");
  if (option.length > MAX_COLLECTIONS) fail("collections", `at most ${MAX_COLLECTIONS} collections, got ${option.length}`);
  const collections: string[] = [];
  const filters: Record<string, Filter> = {};
  // "*" is no collection name (§14), so it cannot be mistaken for one.
  const every = option.some((entry) => entry === EVERY || (isPlainObject(entry) && entry.name === EVERY));
  for (const [i, entry] of option.entries()) {
    const where = `collections[${i}]`;
    let name: unknown;
    let filter: unknown;
    if (typeof entry === "string") name = entry;
    else if (isPlainObject(entry)) {
      const unknown = Object.keys(entry).filter((k) => !ENTRY_KEYS.has(k));
      if (unknown.length) fail(where, `unknown key ${JSON.stringify(unknown[0])} (an entry is { name, filter })`);
      ({ name, filter } = entry);
    } else fail(where, "must be a collection name or a { name, filter } entry");
    if (name === EVERY) {
      if (filter !== undefined) fail(where, `"${EVERY}" takes no filter: it syncs every collection not listed with one`);
      continue;
    }
    if (typeof name !== "string" || !COLLECTION_NAME.test(name)) fail(where, `invalid collection name ${JSON.stringify(name)}: must match ${COLLECTION_NAME}`);
    if (every && filter === undefined) fail(where, `${JSON.stringify(name)} is already synced by "${EVERY}"; beside it, list only collections with a filter`);
    const collection = name as string;
    if (collections.includes(collection)) {
      // The seed took a name listed twice as once; only a filter makes it ambiguous.
      if (filter === undefined && filters[collection] === undefined) continue;
      fail(where, `collection ${JSON.stringify(collection)} is listed twice`);
    }
    collections.push(collection);
    if (filter !== undefined) filters[collection] = toWireFilter(filter, `${where}.filter`);
  }
  // With "*" the request names no collection: every readable one, the filtered ones filtered (§4.8, §4.10).
  return { collections: every ? [] : collections, filters };
}

/** `{ field: value }` is equality, `{ field: [values] }` is "in", several fields are AND (§4.10). */
function toWireFilter(filter: unknown, where: string): Filter {
  if (!isPlainObject(filter)) fail(where, "must be an object of field: value or field: [values]");
  const fields = Object.entries(filter as Record<string, unknown>);
  if (fields.length === 0) fail(where, "must have at least one field (leave the filter out to sync the whole collection)");
  if (fields.length > MAX_CONDITIONS) fail(where, `at most ${MAX_CONDITIONS} fields, got ${fields.length}`);
  const conditions = fields.map(([field, wanted]) => {
    const at = `${where}.${field}`;
    if (field.length === 0 || characters(field) > MAX_FIELD_LENGTH) fail(at, `a field name has 1 to ${MAX_FIELD_LENGTH} characters`);
    if (RESERVED.has(field)) fail(at, `${field} is local metadata, not a field of the document the server stores (PROTOCOL §3.3)`);
    const list = Array.isArray(wanted) ? (wanted as unknown[]) : [wanted];
    if (list.length === 0) fail(at, "an empty list matches nothing; give at least one value");
    const values = [...new Set(list.map((v, n) => valueText(v, Array.isArray(wanted) ? `${at}[${n}]` : at)))];
    if (values.length > MAX_VALUES) fail(at, `at most ${MAX_VALUES} values, got ${values.length}`);
    return create(FieldConditionSchema, { field, values });
  });
  return create(FilterSchema, { conditions });
}

/** A value as the wire takes it: a JSON scalar as JSON text. */
function valueText(value: unknown, where: string): string {
  if (!isScalar(value)) {
    const what = Array.isArray(value) ? "a nested array" : value !== null && typeof value === "object" ? "an object" : typeof value === "number" ? String(value) : typeof value;
    fail(where, `${what} cannot be matched: a filter value is a string, a finite number, true, false or null`);
  }
  const text = JSON.stringify(value);
  const length = characters(text);
  if (length > MAX_VALUE_LENGTH) fail(where, `the value is ${length} characters as JSON, at most ${MAX_VALUE_LENGTH}`);
  return text;
}

function isScalar(value: unknown): value is SyncFilterValue {
  return value === null || typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value));
}

/** Characters as the schema counts them: code points, not UTF-16 units. */
function characters(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}
