// What a principal is sent of the changes read for it (PROTOCOL §13.3,
// §13.6): each change it may read, as it is; for a change it may not read, a
// removal when it may hold a copy of the document, else nothing. "May hold" is
// judged against the state the document had at the reader's position, kept by
// the storage when the server has a per-document read rule, or, for a
// document met earlier in the same changes, by what was sent of it then.
// Under a filter (§4.10), "may read" is "may read and matches the filter",
// and a tombstone of a document the reader may hold is sent as it is.
import { create } from "@bufbuild/protobuf";
import { ChangeEventSchema, Operation, type ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { StateQuery, StatesAt, Storage } from "../storage/types.js";
import { resyncRequired } from "./read-scope.js";
import { NO_FILTERS, type Filters } from "./filter.js";
import { asFailure } from "./pipeline.js";
import type { Authorize, Principal } from "./sync-core.js";

/** Per collection, the position the changes were read after (a checkpoint's `collections`). */
export type Positions = Readonly<Record<string, bigint>>;

export class Visibility {
  constructor(
    private readonly storage: Storage,
    private readonly authorize: Authorize | undefined,
    /** The read rule depends on the document: removals are due (and superseded states kept). */
    readonly perDocument: boolean,
  ) {}

  /** May `principal` read this state? Synchronous when the rule is. */
  canRead(principal: Principal, change: ChangeEvent): boolean | Promise<boolean> {
    return !this.authorize || this.authorize(principal, "read", change.collection, change);
  }

  /** May `principal` read this state, and does it match the reader's filter for its collection? */
  selects(principal: Principal, change: ChangeEvent, filters: Filters): boolean | Promise<boolean> {
    const filter = filters.get(change.collection);
    if (filter && !filter.matches(change)) return false;
    return this.canRead(principal, change);
  }

  /** What `principal` is sent of `changes` (in sequence order, read after `positions`). */
  async of(principal: Principal, changes: readonly ChangeEvent[], positions: Positions, filters: Filters = NO_FILTERS): Promise<ChangeEvent[]> {
    const verdicts = await Promise.all(changes.map((change) => this.selects(principal, change, filters)));
    return [...(await this.settle(principal, changes, verdicts, positions, filters))];
  }

  /**
   * The same, given the read verdicts: `changes` itself when all are
   * readable (so a shared encoding stays shared), synchronously unless a
   * removal must be judged against a kept state.
   */
  settle(principal: Principal, changes: readonly ChangeEvent[], verdicts: readonly boolean[], positions: Positions, filters: Filters = NO_FILTERS): readonly ChangeEvent[] | Promise<readonly ChangeEvent[]> {
    if (verdicts.every(Boolean)) return changes;
    if (!this.perDocument && !changes.some((c, i) => !verdicts[i] && filters.has(c.collection))) return changes.filter((_, i) => verdicts[i]);
    return this.withRemovals(principal, changes, verdicts, positions, filters);
  }

  private async withRemovals(principal: Principal, changes: readonly ChangeEvent[], verdicts: readonly boolean[], positions: Positions, filters: Filters): Promise<ChangeEvent[]> {
    // The state at the position matters only for a document's first change
    // here; at its later ones, the reader holds what it was sent just before.
    const seen = new Set<string>();
    const queries: StateQuery[] = [];
    const queryOf = new Map<number, number>();
    changes.forEach((change, i) => {
      const key = keyOf(change);
      if (seen.has(key)) return;
      seen.add(key);
      const sequence = positions[change.collection] ?? 0n;
      // At position 0 the reader holds nothing of the collection. Without a
      // read rule, only a filter can have selected what it holds.
      if (verdicts[i] || sequence === 0n || (!this.perDocument && !filters.has(change.collection))) return;
      queryOf.set(i, queries.length);
      queries.push({ collection: change.collection, documentId: change.documentId, sequence });
    });
    let states: Array<ChangeEvent | undefined> = [];
    if (queries.length) {
      let read: StatesAt;
      try {
        read = await this.storage.getStatesAt(queries);
      } catch (error) {
        throw asFailure(error);
      }
      // A purge (on any server) after the changes were read may have taken
      // a state judged here: the reader resyncs rather than keep a copy it
      // may no longer read (PROTOCOL §13.6).
      const purged = [...new Set(queries.filter((q) => q.sequence < (read.purgedThrough[q.collection] ?? 0n)).map((q) => q.collection))];
      if (purged.length > 0) throw resyncRequired(purged);
      states = read.states;
    }
    const heldThen = await Promise.all(states.map((state) => state !== undefined && !state.deleted && this.selects(principal, state, filters)));
    const holds = new Map<string, boolean>();
    const out: ChangeEvent[] = [];
    changes.forEach((change, i) => {
      const key = keyOf(change);
      const held = holds.get(key) ?? (queryOf.has(i) ? heldThen[queryOf.get(i)!]! : false);
      if (verdicts[i]) out.push(change);
      // A filtered reader told of a delete deletes (§4.10); anyone else who
      // may hold the document is told only that it may no longer.
      else if (held) out.push(change.deleted && filters.has(change.collection) ? change : removalOf(change));
      holds.set(key, verdicts[i]!);
    });
    return out;
  }
}

const keyOf = (change: ChangeEvent) => `${change.collection}\u0000${change.documentId}`;

/**
 * The removal in place of a change the reader may not read: its position and
 * document key, nothing of its state; deleted, so that a client unaware of
 * removals drops its copy too.
 */
export function removalOf(change: ChangeEvent): ChangeEvent {
  return create(ChangeEventSchema, {
    operation: Operation.DELETE,
    collection: change.collection,
    documentId: change.documentId,
    serverSequence: change.serverSequence,
    deleted: true,
    removed: true,
  });
}
