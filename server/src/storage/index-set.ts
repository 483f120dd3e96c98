// The persisted set of field indexes and what setIndexes does to it, shared
// by every storage: which specs stay, which are dropped, which are built.
import { checkIndexSpec, specKey, specSetKey } from "./index-values.js";
import type { BuiltIndex, IndexSpec } from "./types.js";

/** How a storage persists its set (LevelDB: a meta key; PostgreSQL: meta.indexes). */
export interface IndexSetJson {
  /** The indexes in force, with the sequence each is complete from. */
  built: Array<{ collection: string; field: string; since: string }>;
  /** Specs out of force whose entries a drop cut short may have left: deleted by the next setIndexes. */
  dropping: Array<{ collection: string; field: string }>;
}

export const EMPTY_INDEX_SET: IndexSetJson = { built: [], dropping: [] };

const plain = (spec: IndexSpec): IndexSpec => ({ collection: spec.collection, field: spec.field });

export const builtOf = (json: IndexSetJson): BuiltIndex[] => json.built.map((b) => ({ ...plain(b), since: BigInt(b.since) }));

export const indexSetJson = (built: readonly BuiltIndex[], dropping: readonly IndexSpec[] = []): IndexSetJson => ({
  built: built.map((b) => ({ ...plain(b), since: b.since.toString() })),
  dropping: dropping.map(plain),
});

/** What setIndexes(specs) does to a persisted set. */
export interface IndexPlan {
  /** The specs given, each once. */
  readonly target: IndexSpec[];
  /** The target as servers sharing a database compare it (specSetKey). */
  readonly targetSet: string;
  /** Built and still given: kept as they are. */
  readonly kept: BuiltIndex[];
  /** Built and no longer given. */
  readonly dropped: BuiltIndex[];
  /** Specs whose entries to delete (where no target spec covers them): the dropped, and what an earlier drop left. */
  readonly stale: IndexSpec[];
  /** Given and not built: to backfill. */
  readonly toBuild: IndexSpec[];
}

/** Throws (before anything is written) if a spec is malformed. */
export function planIndexes(persisted: IndexSetJson, specs: readonly IndexSpec[]): IndexPlan {
  specs.forEach(checkIndexSpec);
  const target = [...new Map(specs.map((s) => [specKey(s), plain(s)])).values()];
  const wanted = new Set(target.map(specKey));
  const built = builtOf(persisted);
  const kept = built.filter((b) => wanted.has(specKey(b)));
  const dropped = built.filter((b) => !wanted.has(specKey(b)));
  const keptKeys = new Set(kept.map(specKey));
  return {
    target,
    targetSet: specSetKey(target),
    kept,
    dropped,
    stale: [...persisted.dropping.filter((d) => !wanted.has(specKey(d))).map(plain), ...dropped.map(plain)],
    toBuild: target.filter((t) => !keptKeys.has(specKey(t))),
  };
}
