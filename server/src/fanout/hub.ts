// Live fan-out: every durable commit reaches every open subscription at once.
// A commit is grouped once per distinct set of subscribed collections, so all
// subscribers of the same collections receive the very same array of changes
// (and through encode-once.ts the same encoded bytes). Subscribers of other
// collections hear only the new watermark: no work beyond a field write.
import { create } from "@bufbuild/protobuf";
import { CheckpointSchema, type ChangeEvent, type Checkpoint } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { StoredChange } from "../storage/types.js";

/** One open subscription, as the hub sees it. */
export interface LiveSubscriber {
  /** The collections it follows, distinct; none means every collection (PROTOCOL §4.8). */
  readonly collections: readonly string[];
  /**
   * Called with every commit: the committed changes in its collections (in
   * sequence order, possibly none, shared with other subscribers: never
   * mutate) and the watermark below which every commit has been published.
   */
  offer(changes: readonly ChangeEvent[], watermark: bigint): void;
  /** Commits up to `watermark` may have gone unseen: catch up from storage. */
  resync(watermark: bigint): void;
  /** Ends the subscription cleanly (server shutdown). */
  close(): void;
}

const NOTHING: readonly ChangeEvent[] = Object.freeze([]);

/**
 * What the subscribers of one collection set share beyond the changes: the
 * checkpoint "everything in these collections up to W", made once per
 * watermark. A subscriber whose checkpoint holds no other collections (the
 * usual case) hands on this very object, so its message is the same as every
 * other member's and is encoded once.
 */
export class SharedCheckpoints {
  private latest: Checkpoint | undefined;

  constructor(private readonly collections: readonly string[]) {}

  at(watermark: bigint, epoch: string): Checkpoint {
    const latest = this.latest;
    if (latest && latest.serverSequence === watermark && latest.epoch === epoch) return latest;
    const positions: Record<string, bigint> = {};
    for (const collection of this.collections) positions[collection] = watermark;
    return (this.latest = create(CheckpointSchema, { serverSequence: watermark, collections: positions, epoch }));
  }
}

interface Group {
  readonly collections: readonly string[];
  readonly members: Set<LiveSubscriber>;
  readonly checkpoints: SharedCheckpoints;
}

export class FanoutHub {
  /** Subscribers by the key of their collection set. */
  private readonly groups = new Map<string, Group>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /**
   * Registers a subscriber: `detach` removes it (idempotent), `checkpoints`
   * is what it shares with the subscribers of the same collections.
   */
  add(subscriber: LiveSubscriber): { detach: () => void; checkpoints: SharedCheckpoints } {
    const key = keyOf(subscriber.collections);
    let group = this.groups.get(key);
    if (!group) {
      const collections = [...new Set(subscriber.collections)];
      this.groups.set(key, (group = { collections, members: new Set(), checkpoints: new SharedCheckpoints(collections) }));
    }
    const joined = group;
    joined.members.add(subscriber);
    this.count++;
    const detach = () => {
      if (!joined.members.delete(subscriber)) return;
      this.count--;
      if (joined.members.size === 0 && this.groups.get(key) === joined) this.groups.delete(key);
    };
    return { detach, checkpoints: joined.checkpoints };
  }

  /**
   * Fans a commit out. With `complete` false, changes up to the watermark
   * may be missing from `committed` (a commit whose outcome was unknown):
   * every subscriber then catches up from storage instead.
   */
  publish(committed: readonly StoredChange[], watermark: bigint, complete = true): void {
    if (this.count === 0) return;
    if (!complete) {
      for (const { members } of this.groups.values()) for (const subscriber of members) subscriber.resync(watermark);
      return;
    }
    const byCollection = new Map<string, ChangeEvent[]>();
    let everything: readonly ChangeEvent[] | undefined;
    for (const { event } of committed) {
      const list = byCollection.get(event.collection);
      if (list) list.push(event);
      else byCollection.set(event.collection, [event]);
    }
    for (const { collections, members } of this.groups.values()) {
      const changes = collections.length > 0
        ? changesFor(collections, byCollection)
        : (everything ??= committed.length > 0 ? inOrder(committed.map((c) => c.event)) : NOTHING);
      for (const subscriber of members) subscriber.offer(changes, watermark);
    }
  }

  /** Ends every subscription (server shutdown): streams finish cleanly. */
  closeAll(): void {
    for (const { members } of [...this.groups.values()]) for (const subscriber of [...members]) subscriber.close();
  }
}

function keyOf(collections: readonly string[]): string {
  return [...new Set(collections)].sort().join("\u0000");
}

/** The commit's changes in these collections, in sequence order. */
function changesFor(collections: readonly string[], byCollection: ReadonlyMap<string, ChangeEvent[]>): readonly ChangeEvent[] {
  let found: ChangeEvent[] | undefined;
  let merged = false;
  for (const collection of collections) {
    const list = byCollection.get(collection);
    if (!list) continue;
    if (!found) found = list;
    else {
      found = [...found, ...list];
      merged = true;
    }
  }
  if (!found) return NOTHING;
  return merged ? inOrder(found) : found;
}

function inOrder(changes: ChangeEvent[]): ChangeEvent[] {
  return changes.sort((a, b) => (a.serverSequence < b.serverSequence ? -1 : a.serverSequence > b.serverSequence ? 1 : 0));
}
