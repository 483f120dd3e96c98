// Filters of Pull and Subscribe (PROTOCOL §4.10): per collection, conditions
// on top-level fields (equality, or "in" with several values), all of which a
// document must meet. Compiled once per request: values canonicalized, the
// digest a checkpoint records computed, and an indexed field picked to drive
// the read, so that a filtered read costs what matches (§4.11).
import { createHash } from "node:crypto";
import type { ChangeEvent, Filter } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { canonicalValue, fieldValues, indexedFields, type IndexSpec } from "../storage/index-values.js";
import { ErrorReason, SyncFailure, type FieldProblem } from "./failures.js";

export interface Condition {
  readonly field: string;
  /** Canonical JSON scalars (index-values.ts), distinct, in byte order. */
  readonly values: readonly string[];
}

export class CompiledFilter {
  /** The digest checkpoints record for this filter: equal for equal filters, however written. */
  readonly digest: string;
  private readonly fields: readonly string[];
  private readonly sets: ReadonlyArray<ReadonlySet<string>>;

  constructor(
    readonly collection: string,
    /** By field name, in byte order. */
    readonly conditions: readonly Condition[],
    /** The indexed condition the read walks: the one with the fewest values. */
    readonly driver: Condition,
  ) {
    this.fields = conditions.map((c) => c.field);
    this.sets = conditions.map((c) => new Set(c.values));
    this.digest = createHash("sha256")
      .update(JSON.stringify(conditions.map((c) => [c.field, c.values])))
      .digest("base64url")
      .slice(0, 22);
  }

  /** Does this state match? A tombstone never does. */
  matches(change: ChangeEvent): boolean {
    if (change.deleted) return false;
    const values = valuesOf(change, this.fields);
    return this.conditions.every((c, i) => {
      const value = values.get(c.field);
      return value !== undefined && this.sets[i]!.has(value);
    });
  }
}

/**
 * A change's field values, parsed once however many filtered readers judge
 * it: live fan-out hands every subscriber the same ChangeEvent objects.
 */
const parsed = new WeakMap<ChangeEvent, Map<string, string | undefined>>();

function valuesOf(change: ChangeEvent, fields: readonly string[]): Map<string, string | undefined> {
  let known = parsed.get(change);
  if (!known) parsed.set(change, (known = new Map()));
  const missing = fields.filter((f) => !known!.has(f));
  if (missing.length > 0) {
    const found = fieldValues(change.document, missing);
    for (const f of missing) known.set(f, found.get(f));
  }
  return known;
}

/** Per collection, the filter a read applies; a collection absent is read whole. */
export type Filters = ReadonlyMap<string, CompiledFilter>;

export const NO_FILTERS: Filters = new Map();

/**
 * Compiles a request's filters. `requested` are the collections it names
 * (empty: every readable one, so a filter may key any collection). Throws
 * invalid_argument naming the field path for a malformed filter, and
 * failed_precondition FILTER_NOT_INDEXED for one no index can answer.
 */
export function compileFilters(filters: Readonly<Record<string, Filter>>, requested: readonly string[], indexes: readonly IndexSpec[]): Filters {
  const entries = Object.entries(filters);
  if (entries.length === 0) return NO_FILTERS;
  const problems: FieldProblem[] = [];
  const compiled = new Map<string, CompiledFilter>();
  for (const [collection, filter] of entries) {
    const path = `filters["${collection}"]`;
    if (requested.length > 0 && !requested.includes(collection)) {
      problems.push({ field: path, description: `filters collection "${collection}", which the request does not read` });
      continue;
    }
    if (filter.conditions.length === 0) {
      problems.push({ field: `${path}.conditions`, description: "a filter needs at least one condition" });
      continue;
    }
    const byField = new Map<string, Condition>();
    filter.conditions.forEach((condition, i) => {
      const at = `${path}.conditions[${i}]`;
      if (byField.has(condition.field)) {
        problems.push({ field: `${at}.field`, description: `a second condition on "${condition.field}": give one condition with several values instead` });
        return;
      }
      if (condition.field === "") problems.push({ field: `${at}.field`, description: "the field name is empty" });
      if (condition.values.length === 0) problems.push({ field: `${at}.values`, description: "a condition needs at least one value" });
      const values = new Set<string>();
      condition.values.forEach((text, j) => {
        const value = canonicalValue(text);
        if (value === undefined) {
          problems.push({ field: `${at}.values[${j}]`, description: `${JSON.stringify(text.slice(0, 64))} is not a JSON scalar (a string in quotes, a number, true, false or null)` });
        } else values.add(value);
      });
      byField.set(condition.field, { field: condition.field, values: [...values].sort() });
    });
    if (problems.length > 0) continue;
    const conditions = [...byField.values()].sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0));
    const indexed = new Set(indexedFields(indexes, collection));
    const drivers = conditions.filter((c) => indexed.has(c.field)).sort((a, b) => a.values.length - b.values.length);
    if (drivers.length === 0) {
      throw new SyncFailure(
        "failed_precondition",
        ErrorReason.FILTER_NOT_INDEXED,
        `the filter on ${collection} names no field this server indexes for it (${conditions.map((c) => c.field).join(", ")}); ` +
          `it indexes ${indexed.size > 0 ? [...indexed].join(", ") : "none"}`,
        [],
        { collection },
      );
    }
    compiled.set(collection, new CompiledFilter(collection, conditions, drivers[0]!));
  }
  if (problems.length > 0) {
    throw new SyncFailure("invalid_argument", ErrorReason.INVALID_ARGUMENT, `invalid filter: ${problems[0]!.field}: ${problems[0]!.description}`, problems);
  }
  return compiled;
}

/**
 * Refuses a checkpoint whose positions were read under another filter
 * (PROTOCOL §4.10): the client holds what the old filter selected, so only a
 * read from the beginning under the new one, and the resync that drops the
 * rest, leaves it with what the new one selects.
 */
export function filterChanged(collections: readonly string[], positions: Readonly<Record<string, bigint>>, digests: Readonly<Record<string, string>>, filters: Filters): string[] {
  return collections.filter((c) => (positions[c] ?? 0n) > 0n && (digests[c] ?? "") !== (filters.get(c)?.digest ?? ""));
}

/** The checkpoint's `filters` after a read of `collections` under `filters`. */
export function digestsAfter(previous: Readonly<Record<string, string>>, collections: readonly string[], filters: Filters): Record<string, string> {
  const next = { ...previous };
  for (const c of collections) {
    const filter = filters.get(c);
    if (filter) next[c] = filter.digest;
    else delete next[c];
  }
  return next;
}
