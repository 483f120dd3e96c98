// The read side of the core: which collections a pull or subscribe reads
// (PROTOCOL §4.8), whether its checkpoint can be resumed for them (§8.3,
// §4.10), and the pages it reads, whole collections from the change log and
// filtered ones from an index (§4.5, §4.11).
import { create } from "@bufbuild/protobuf";
import { CheckpointSchema, type ChangeEvent, type Checkpoint } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { IndexSpec } from "../storage/index-values.js";
import type { CommittedPosition, Storage } from "../storage/types.js";
import { digestsAfter, filterChanged, NO_FILTERS, type CompiledFilter, type Filters } from "./filter.js";
import { ErrorReason, SyncFailure } from "./failures.js";
import { asFailure } from "./pipeline.js";
import { ensureResumable, everyCollection, grantLost, resyncRequired, unlistedPositions } from "./read-scope.js";
import type { Authorize, Principal } from "./sync-core.js";

/** What a pull or subscribe reads (Reader.readScope). */
export interface ReadScope {
  readonly collections: readonly string[];
  /** None was named: `collections` are every readable one, listed at `upTo`. */
  readonly every: boolean;
  /** Read no further: the committed position the collections were listed at. */
  readonly upTo?: bigint;
}

/** One page of a pull: changes in increasing sequence, and the checkpoint after them. */
export interface Page {
  readonly changes: ChangeEvent[];
  readonly hasMore: boolean;
  readonly checkpoint: Checkpoint;
}

export interface ReaderContext {
  readonly storage: Storage;
  readonly authorize?: Authorize;
  /** The data set's epoch; throws unavailable while the storage never opened. */
  epoch(): string;
}

export class Reader {
  constructor(private readonly context: ReaderContext) {}

  private get storage(): Storage {
    return this.context.storage;
  }

  /**
   * Refuses a checkpoint that cannot be resumed (PROTOCOL §8.3), against the
   * storage's committed position now: another server may have purged, or
   * given out a checkpoint ahead of what this one has published. `every`:
   * the request named no collection, so the collections the checkpoint holds
   * are judged too, listed or not, and a checkpoint of another data set is
   * refused even when there is no collection (§4.8). A position read under
   * another filter is refused too (§4.10).
   */
  async ensureResumable(collections: readonly string[], checkpoint: Checkpoint | undefined, every = false, filters: Filters = NO_FILTERS): Promise<void> {
    const epoch = this.context.epoch();
    if (!checkpoint) return;
    const judged = every ? [...collections, ...Object.keys(checkpoint.collections)] : collections;
    // Positions of 0 are always resumable: only the epoch is checked then.
    let position: CommittedPosition = { lastSequence: 0n, purgedThrough: {} };
    if (judged.some((c) => (checkpoint.collections[c] ?? 0n) > 0n)) {
      try {
        position = await this.storage.readPosition();
      } catch (error) {
        throw asFailure(error);
      }
    }
    this.refuseStale(collections, checkpoint, position, every, filters, epoch);
  }

  private refuseStale(collections: readonly string[], checkpoint: Checkpoint | undefined, position: CommittedPosition, every: boolean, filters: Filters, epoch: string): void {
    ensureResumable(collections, checkpoint, every, { epoch, purgedThrough: position.purgedThrough, lastSequence: position.lastSequence });
    if (!checkpoint) return;
    const refiltered = filterChanged(collections, checkpoint.collections, checkpoint.filters, filters);
    // An index built (again) after the position lacks the exits before it (§4.11).
    const built = this.storage.indexes();
    const early = collections.filter((c) => {
      const filter = filters.get(c);
      const position = checkpoint.collections[c] ?? 0n;
      if (!filter || position === 0n) return false;
      const since = built.filter((b) => b.field === filter.driver.field && (b.collection === c || b.collection === "*")).map((b) => b.since);
      return since.length > 0 && since.every((s) => position < s);
    });
    const stale = [...new Set([...refiltered, ...early])];
    if (stale.length > 0) throw resyncRequired(stale);
  }

  async ensureReadable(principal: Principal, collections: readonly string[]): Promise<void> {
    if (!this.context.authorize) return;
    for (const collection of collections) {
      if (!(await this.context.authorize(principal, "read", collection))) {
        throw new SyncFailure("permission_denied", ErrorReason.PERMISSION_DENIED, `${principal.id} may not read ${collection}`);
      }
    }
  }

  /** May `principal` read `collection` at all? */
  mayReadCollection(principal: Principal, collection: string): boolean | Promise<boolean> {
    return !this.context.authorize || this.context.authorize(principal, "read", collection);
  }

  /**
   * What a pull or subscribe reads (PROTOCOL §4.8): the collections named,
   * once the principal may read each (else permission_denied); with none
   * named, every stored collection it may read, skipping the others, listed
   * after reading the committed position so that every collection with a
   * change at or below `upTo` is among them, and refusing a checkpoint that
   * holds positions in collections the principal may no longer read.
   */
  async readScope(principal: Principal, requested: readonly string[], checkpoint: Checkpoint | undefined): Promise<ReadScope> {
    if (requested.length > 0) {
      await this.ensureReadable(principal, requested);
      return { collections: requested, every: false };
    }
    this.context.epoch();
    let position: CommittedPosition;
    let listed: string[];
    try {
      position = await this.storage.readPosition();
      listed = await this.storage.listCollections();
    } catch (error) {
      throw asFailure(error);
    }
    const stored = everyCollection(listed, position.purgedThrough);
    const verdicts = await Promise.all(stored.map((c) => this.mayReadCollection(principal, c)));
    const collections = stored.filter((_, i) => verdicts[i]);
    await this.refuseLostGrants(principal, collections, checkpoint);
    return { collections, every: true, upTo: position.lastSequence };
  }

  /**
   * A reader naming no collection whose checkpoint holds positions in
   * collections it may no longer read resyncs them (read-scope.ts).
   */
  private async refuseLostGrants(principal: Principal, readable: readonly string[], checkpoint: Checkpoint | undefined): Promise<void> {
    const candidates = unlistedPositions(readable, checkpoint);
    const verdicts = await Promise.all(candidates.map((c) => this.mayReadCollection(principal, c)));
    const lost = candidates.filter((_, i) => !verdicts[i]);
    if (lost.length > 0) throw grantLost(lost);
  }

  /**
   * Up to `limit` latest changes after the checkpoint's positions, at or
   * below the storage's committed position (and `upTo` when given), merged
   * across collections in sequence order (PROTOCOL §4.5); filtered
   * collections are read from their index with what is left of `limit`
   * (§4.11). The checkpoint is checked against the very view the changes
   * come from, so a purge on another server cannot slip in between (§8.3);
   * with `every` as ensureResumable judges it.
   */
  async readPage(collections: readonly string[], checkpoint: Checkpoint | undefined, limit: number, upTo?: bigint, every = false, filters: Filters = NO_FILTERS): Promise<Page> {
    const epoch = this.context.epoch();
    const whole = collections.filter((c) => !filters.has(c));
    const positions = new Map(whole.map((c) => [c, checkpoint?.collections[c] ?? 0n] as const));
    let read;
    try {
      read = await this.storage.readPage([...positions], limit, upTo);
    } catch (error) {
      throw asFailure(error);
    }
    this.refuseStale(collections, checkpoint, read.position, every, filters, epoch);
    const high = upTo !== undefined && upTo < read.position.lastSequence ? upTo : read.position.lastSequence;
    const perCollection = read.changes;
    const merged = perCollection.flat().sort((a, b) => (a.event.serverSequence < b.event.serverSequence ? -1 : 1));
    let hasMore = merged.length > limit || perCollection.some((page) => page.length === limit);
    const taken = merged.slice(0, limit).map((s) => s.event);
    const reached = hasMore && taken.length ? taken[taken.length - 1]!.serverSequence : high;
    const next = { ...(checkpoint?.collections ?? {}) };
    for (const [collection, position] of positions) next[collection] = position > reached ? position : reached;
    // While a pull from a collection's start pages, remember where it began
    // (PROTOCOL §8.3): tombstones purged below that never reach its pages.
    const since = { ...(checkpoint?.pagingSince ?? {}) };
    const paging = (collection: string, from: bigint, more: boolean) => {
      if (more && from === 0n) since[collection] = high;
      else if (!more) delete since[collection];
    };
    for (const [collection, position] of positions) paging(collection, position, hasMore);

    let budget = limit - taken.length;
    const changes = taken;
    for (const collection of collections) {
      const filter = filters.get(collection);
      if (!filter) continue;
      const from = checkpoint?.collections[collection] ?? 0n;
      if (budget <= 0) {
        hasMore = true;
        next[collection] = from;
        continue;
      }
      const found = await this.readFiltered(filter, checkpoint, from, budget, high, epoch);
      changes.push(...found.changes);
      budget -= found.changes.length;
      next[collection] = found.reached > from ? found.reached : from;
      paging(collection, from, found.hasMore);
      hasMore ||= found.hasMore;
    }
    if (changes.length > taken.length || filters.size > 0) changes.sort((a, b) => (a.serverSequence < b.serverSequence ? -1 : a.serverSequence > b.serverSequence ? 1 : 0));
    return {
      changes,
      hasMore,
      checkpoint: create(CheckpointSchema, {
        serverSequence: high,
        collections: next,
        epoch,
        pagingSince: since,
        filters: digestsAfter(checkpoint?.filters ?? {}, collections, filters),
      }),
    };
  }

  /**
   * A filtered collection's page (PROTOCOL §4.11): the index entries of the
   * driving condition's values after `from`, at most `budget`, each
   * document once, in its state at `high` (a later state is read later).
   * What is sent of each is the visibility's call.
   */
  private async readFiltered(filter: CompiledFilter, checkpoint: Checkpoint | undefined, from: bigint, budget: number, high: bigint, epoch: string) {
    const { collection, driver } = filter;
    let entries;
    let states;
    try {
      const page = await this.storage.readIndex({ collection, field: driver.field, values: driver.values, after: from, upTo: high, limit: budget + 1 });
      this.refuseStale([collection], checkpoint, page.position, false, new Map([[collection, filter]]), epoch);
      entries = page.entries;
      const hasMore = entries.length > budget;
      if (hasMore) entries = entries.slice(0, budget);
      const ids = [...new Set(entries.map((e) => e.documentId))];
      const latest = await this.storage.getDocuments(ids.map((documentId) => ({ collection, documentId })));
      // A document changed since `high`: its state at `high`, kept because the collection is indexed.
      const later = ids.filter((_, i) => (latest[i]?.event.serverSequence ?? 0n) > high);
      const then = later.length ? await this.storage.getStatesAt(later.map((documentId) => ({ collection, documentId, sequence: high }))) : undefined;
      // Missing: created after `high`, unless a purge took it meanwhile (§13.6).
      if (then && then.states.some((s) => s === undefined) && (then.purgedThrough[collection] ?? 0n) > high) throw resyncRequired([collection]);
      const atHigh = new Map(later.map((id, i) => [id, then!.states[i]]));
      states = ids.flatMap((id, i) => {
        const state = atHigh.has(id) ? atHigh.get(id) : latest[i]?.event;
        return state && state.serverSequence > from ? [state] : [];
      });
      return { changes: states, hasMore, reached: hasMore ? entries[entries.length - 1]!.sequence : high };
    } catch (error) {
      throw asFailure(error);
    }
  }
}

export type { IndexSpec };
