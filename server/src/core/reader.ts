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
   * across collections in sequence order (PROTOCOL §4.5). A filtered
   * collection contributes the index entries of its filter (§4.11) in place
   * of changes: every collection's page is cut at one sequence, so a page
   * never runs ahead of another collection's position, and each filtered
   * document is judged in its state at that cut. The checkpoint is checked
   * against the very view the changes come from, so a purge on another
   * server cannot slip in between (§8.3); with `every` as ensureResumable
   * judges it.
   */
  async readPage(collections: readonly string[], checkpoint: Checkpoint | undefined, limit: number, upTo?: bigint, every = false, filters: Filters = NO_FILTERS): Promise<Page> {
    const epoch = this.context.epoch();
    const from = (collection: string) => checkpoint?.collections[collection] ?? 0n;
    const whole = collections.filter((c) => !filters.has(c));
    let read;
    try {
      read = await this.storage.readPage(whole.map((c) => [c, from(c)] as const), limit, upTo);
    } catch (error) {
      throw asFailure(error);
    }
    this.refuseStale(collections, checkpoint, read.position, every, filters, epoch);
    const high = upTo !== undefined && upTo < read.position.lastSequence ? upTo : read.position.lastSequence;
    const found = await Promise.all([...filters.values()].filter((f) => collections.includes(f.collection)).map((f) => this.readEntries(f, from(f.collection), limit, high, checkpoint, epoch)));

    // One cut for every collection: the `limit`-th sequence of all they hold.
    type Item = { readonly sequence: bigint; readonly change?: ChangeEvent; readonly entry?: { readonly collection: string; readonly documentId: string } };
    const items: Item[] = read.changes.flat().map((s) => ({ sequence: s.event.serverSequence, change: s.event }));
    for (const { collection, entries } of found) for (const e of entries) items.push({ sequence: e.sequence, entry: { collection, documentId: e.documentId } });
    items.sort((x, y) => (x.sequence < y.sequence ? -1 : x.sequence > y.sequence ? 1 : 0));
    const hasMore = items.length > limit || read.changes.some((page) => page.length === limit) || found.some((f) => f.entries.length === limit);
    const taken = items.slice(0, limit);
    const cut = hasMore && taken.length ? taken[taken.length - 1]!.sequence : high;
    const judged = await this.statesAt(taken.flatMap((i) => (i.entry ? [i.entry] : [])), cut, from);

    const changes = [...taken.flatMap((i) => (i.change ? [i.change] : [])), ...judged];
    changes.sort((x, y) => (x.serverSequence < y.serverSequence ? -1 : x.serverSequence > y.serverSequence ? 1 : 0));
    const next = { ...(checkpoint?.collections ?? {}) };
    // While a pull from a collection's start pages, remember where it began
    // (PROTOCOL §8.3): tombstones purged below that never reach its pages.
    const since = { ...(checkpoint?.pagingSince ?? {}) };
    for (const collection of collections) {
      const position = from(collection);
      next[collection] = position > cut ? position : cut;
      if (hasMore && position === 0n) since[collection] = high;
      else if (!hasMore) delete since[collection];
    }
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

  /** A filtered collection's index entries after `after`, at most `limit` (PROTOCOL §4.11). */
  private async readEntries(filter: CompiledFilter, after: bigint, limit: number, high: bigint, checkpoint: Checkpoint | undefined, epoch: string) {
    const { collection, driver } = filter;
    let page;
    try {
      page = await this.storage.readIndex({ collection, field: driver.field, values: driver.values, after, upTo: high, limit });
    } catch (error) {
      throw asFailure(error);
    }
    this.refuseStale([collection], checkpoint, page.position, false, new Map([[collection, filter]]), epoch);
    return { collection, entries: page.entries };
  }

  /**
   * The state each document found in an index had at `cut`: its latest
   * when no later, else the kept state (indexed collections keep them). Each
   * document once, and only a state above the reader's position: one found
   * by an older entry and unchanged since was judged by an earlier page.
   * What is sent of each is the visibility's call.
   */
  private async statesAt(found: ReadonlyArray<{ readonly collection: string; readonly documentId: string }>, cut: bigint, from: (collection: string) => bigint): Promise<ChangeEvent[]> {
    const keys = [...new Map(found.map((k) => [`${k.collection}\u0000${k.documentId}`, k])).values()];
    if (keys.length === 0) return [];
    try {
      const latest = await this.storage.getDocuments(keys);
      const later = keys.filter((_, i) => (latest[i]?.event.serverSequence ?? 0n) > cut);
      const then = later.length ? await this.storage.getStatesAt(later.map((k) => ({ ...k, sequence: cut }))) : undefined;
      // Missing: created after the cut, unless a purge took it meanwhile (§13.6).
      const purged = later.filter((k, i) => then!.states[i] === undefined && (then!.purgedThrough[k.collection] ?? 0n) > cut);
      if (purged.length > 0) throw resyncRequired([...new Set(purged.map((k) => k.collection))]);
      const atCut = new Map(later.map((k, i) => [`${k.collection}\u0000${k.documentId}`, then!.states[i]]));
      return keys.flatMap((k, i) => {
        const key = `${k.collection}\u0000${k.documentId}`;
        const state = atCut.has(key) ? atCut.get(key) : latest[i]?.event;
        return state && state.serverSequence > from(k.collection) ? [state] : [];
      });
    } catch (error) {
      throw asFailure(error);
    }
  }
}

export type { IndexSpec };
