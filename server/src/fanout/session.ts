// One Subscribe stream (PROTOCOL §5), independent of the wire: catch up from
// the checkpoint in pages read from storage, then deliver live changes as the
// hub offers them, with heartbeats in the silences.
//
// It is driven by events, not by a loop per stream: an idle stream is this
// object, one timer and its place in the hub. The hub offers each commit
// synchronously; a live stream that can write passes the shared array of
// changes straight to its sink. While it catches up, or while its transport
// is full (a slow reader), offers wait in a small bounded queue; when that
// overflows, the queue is dropped and the stream catches up from storage
// again, so a slow reader never holds more than `maxQueuedChanges`.
//
// The subscription is registered before catching up, so nothing committed in
// between is missed; changes the catch-up already covered are dropped by
// comparing their sequence with the checkpoint's position.
import { create } from "@bufbuild/protobuf";
import {
  CheckpointSchema,
  SubscribeResponseSchema,
  type ChangeEvent,
  type Checkpoint,
  type Filter,
  type SubscribeResponse,
} from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { digestsAfter, NO_FILTERS, type Filters } from "../core/filter.js";
import type { Principal, ReadScope, SyncCore } from "../core/sync-core.js";
import type { FanoutHub, LiveSubscriber, SharedCheckpoints } from "./hub.js";

/** What a stream sends: a message of its own, or live changes shared with other streams. */
export type StreamMessage =
  | { readonly kind: "response"; readonly response: SubscribeResponse }
  | { readonly kind: "live"; readonly changes: readonly ChangeEvent[]; readonly checkpoint: Checkpoint };

/** The transport side of a stream. */
export interface StreamSink {
  /** Writes a message; false when the transport is full, until it calls `resume()`. */
  send(message: StreamMessage): boolean;
  /** Ends the stream: cleanly, or with `error`. Called once. */
  end(error?: unknown): void;
}

export interface SessionOptions {
  /** Longest silence between two messages. */
  readonly heartbeatMs: number;
  /** Changes per catch-up page. */
  readonly pageSize: number;
  /** Changes a stream may hold back (catching up, or a full transport) before it falls back to storage. */
  readonly maxQueuedChanges: number;
  /**
   * The caller's credentials (PROTOCOL §13). `check` runs before every
   * message, so it must be synchronous and cheap: once a revocation or expiry
   * is known in memory, nothing more is sent. `recheck` authenticates afresh
   * (it may do I/O) every heartbeat interval whatever the traffic, so a
   * revoked token ends every stream within one interval. Either throws to end
   * the stream with that error.
   */
  readonly credentials?: { readonly check: () => void; readonly recheck: () => Promise<void> };
  readonly now?: () => number;
}

interface Held {
  readonly changes: readonly ChangeEvent[];
  readonly watermark: bigint;
}

type Phase = "opening" | "catching-up" | "live" | "ended";

export class SubscriberSession implements LiveSubscriber {
  /** As requested; none means every collection the principal may read (PROTOCOL §4.8). */
  readonly collections: readonly string[];
  /**
   * The collections whose positions the stream advances: those requested,
   * or, following every collection, those it found readable so far.
   */
  private followed: string[];
  /** Following every collection: whether the principal may read each one met. */
  private readonly verdicts = new Map<string, boolean | Promise<boolean>>();
  private phase: Phase = "opening";
  private checkpoint: Checkpoint;
  /** Every commit at or below it has been offered. */
  private watermark = 0n;
  private held: Held[] = [];
  private heldCount = 0;
  /** Offers were dropped: the stream must catch up from storage. */
  private overflowed = false;
  /** The transport said it is full. */
  private blocked = false;
  /** Wakes a catch-up waiting for the transport. */
  private resumed: (() => void) | undefined;
  /** A delivery waits for an asynchronous read rule. */
  private delivering = false;
  private lastSentAt: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private detach: (() => void) | undefined;
  private shared: SharedCheckpoints | undefined;
  private readonly now: () => number;
  /** Per collection, the filter of the request (PROTOCOL §4.10); compiled by open(). */
  private filters: Filters = NO_FILTERS;

  constructor(
    private readonly core: SyncCore,
    private readonly hub: FanoutHub,
    private readonly principal: Principal,
    private readonly request: { readonly collections: readonly string[]; readonly checkpoint?: Checkpoint; readonly filters?: Readonly<Record<string, Filter>> },
    private readonly sink: StreamSink,
    private readonly options: SessionOptions,
  ) {
    this.collections = request.collections;
    this.followed = [...request.collections];
    this.checkpoint = request.checkpoint ?? create(CheckpointSchema, {});
    this.now = options.now ?? Date.now;
    this.lastSentAt = this.now();
  }

  /**
   * Checks that the principal may follow these collections from this
   * checkpoint (throws before anything is sent), then starts the stream.
   */
  async open(): Promise<void> {
    this.filters = this.core.compileFilters(this.request.filters ?? {}, this.collections);
    const scope = await this.core.readScope(this.principal, this.collections, this.checkpoint);
    await this.core.ensureResumable(scope.collections, this.checkpoint, scope.every, this.filters);
    if (this.phase === "ended") return;
    ({ detach: this.detach, checkpoints: this.shared } = this.hub.add(this));
    this.watermark = this.core.visibleSequence;
    this.arm(this.options.heartbeatMs);
    void this.catchUp();
  }

  get ended(): boolean {
    return this.phase === "ended";
  }

  offer(changes: readonly ChangeEvent[], watermark: bigint): void {
    this.watermark = watermark;
    if (changes.length === 0 || this.phase === "ended" || this.overflowed) return;
    if (this.phase === "live" && !this.blocked && !this.delivering && this.held.length === 0) {
      this.deliver({ changes, watermark });
      return;
    }
    this.hold({ changes, watermark });
  }

  resync(watermark: bigint): void {
    this.watermark = watermark;
    if (this.phase === "ended") return;
    this.held = [];
    this.heldCount = 0;
    this.overflowed = true;
    this.pump();
  }

  /** The transport can take more. */
  resume(): void {
    if (!this.blocked) return;
    this.blocked = false;
    this.wake();
    this.pump();
  }

  /** Ends the stream: cleanly (server shutdown), or with `error` (a deadline). */
  close(error?: unknown): void {
    this.finish(error);
  }

  /** The transport is gone: release everything, send nothing. */
  abandon(): void {
    this.release();
  }

  // ---- delivery ---------------------------------------------------------

  private hold(entry: Held): void {
    if (this.heldCount + entry.changes.length > this.options.maxQueuedChanges) {
      this.held = [];
      this.heldCount = 0;
      this.overflowed = true;
      return;
    }
    this.held.push(entry);
    this.heldCount += entry.changes.length;
  }

  /** Sends what is held, as far as the transport allows. */
  private pump(): void {
    while (this.phase === "live" && !this.blocked && !this.delivering) {
      if (this.overflowed) {
        this.overflowed = false;
        void this.catchUp();
        return;
      }
      const next = this.held.shift();
      if (!next) return;
      this.heldCount -= next.changes.length;
      this.deliver(next);
    }
  }

  private deliver(entry: Held): void {
    const fresh = this.freshOf(entry.changes);
    // None fresh: all covered by the catch-up already.
    const readable = fresh.length === 0 ? fresh : this.readableOf(fresh);
    if (Array.isArray(readable)) {
      this.sendLive(readable, this.advancedTo(entry.watermark));
      return;
    }
    // Nothing else moves the checkpoint meanwhile: `delivering` holds the queue and the heartbeat.
    this.delivering = true;
    (readable as Promise<readonly ChangeEvent[]>).then(
      (changes) => {
        this.delivering = false;
        if (this.phase === "ended") return;
        this.sendLive(changes, this.advancedTo(entry.watermark));
        this.pump();
      },
      (error: unknown) => this.finish(error),
    );
  }

  private sendLive(changes: readonly ChangeEvent[], checkpoint: Checkpoint): void {
    this.checkpoint = checkpoint;
    // Hidden documents still advance the checkpoint (PROTOCOL §13.3), at the next message.
    if (changes.length === 0) return;
    this.send({ kind: "live", changes, checkpoint });
  }

  private send(message: StreamMessage): void {
    try {
      this.options.credentials?.check();
    } catch (error) {
      this.finish(error);
      return;
    }
    this.lastSentAt = this.now();
    if (!this.sink.send(message)) this.blocked = true;
  }

  /** Changes not yet covered by the checkpoint; the same array when all are. */
  private freshOf(changes: readonly ChangeEvent[]): readonly ChangeEvent[] {
    const positions = this.checkpoint.collections;
    if (changes.every((c) => c.serverSequence > (positions[c.collection] ?? 0n))) return changes;
    return changes.filter((c) => c.serverSequence > (positions[c.collection] ?? 0n));
  }

  /**
   * What the principal is sent of these changes: those it may read, and
   * removals where a per-document read rule stopped matching (PROTOCOL
   * §13.6). The same array when all are readable (so the shared encoding is
   * used), synchronously when the read rule answers synchronously and no
   * kept state must be read.
   */
  private readableOf(changes: readonly ChangeEvent[]): readonly ChangeEvent[] | Promise<readonly ChangeEvent[]> {
    const verdicts = changes.map((change) => {
      if (this.collections.length > 0) return this.core.selects(this.principal, change, this.filters);
      const collection = this.collectionVerdict(change.collection);
      if (typeof collection === "boolean") return collection && this.core.selects(this.principal, change, this.filters);
      return collection.then((ok) => ok && this.core.selects(this.principal, change, this.filters));
    });
    // Read before anything moves the checkpoint: the position the changes come after (PROTOCOL §13.6).
    const positions = this.checkpoint.collections;
    if (verdicts.some((v) => typeof v !== "boolean")) {
      return Promise.all(verdicts).then((all) => this.core.settleVisible(this.principal, changes, all, positions, this.filters));
    }
    return this.core.settleVisible(this.principal, changes, verdicts as boolean[], positions, this.filters);
  }

  /**
   * Following every collection: may the principal read `collection`? Asked
   * once per stream (its principal's grants cannot change: §13.5); a
   * readable one is followed from then on.
   */
  private collectionVerdict(collection: string): boolean | Promise<boolean> {
    const known = this.verdicts.get(collection);
    if (known !== undefined) return known;
    const asked = this.core.mayReadCollection(this.principal, collection);
    const settle = (ok: boolean) => {
      this.verdicts.set(collection, ok);
      if (ok) this.follow([collection]);
      return ok;
    };
    if (typeof asked === "boolean") return settle(asked);
    const pending = asked.then(settle);
    this.verdicts.set(collection, pending);
    return pending;
  }

  private follow(collections: readonly string[]): void {
    for (const collection of collections) {
      if (this.followed.includes(collection)) continue;
      this.followed.push(collection);
      this.verdicts.set(collection, true);
    }
  }

  /** The checkpoint once every change up to `watermark` in the followed collections has been sent. */
  private advancedTo(watermark: bigint): Checkpoint {
    const from = this.checkpoint;
    if (watermark <= from.serverSequence) return from;
    // Nothing but these collections, none ahead: the group's shared checkpoint.
    const named = this.collections.length > 0;
    if (named && this.filters.size === 0 && Object.keys(from.filters).length === 0 && this.shared && Object.keys(from.collections).every((c) => this.collections.includes(c) && from.collections[c]! <= watermark)) {
      return this.shared.at(watermark, this.core.epoch);
    }
    const positions = { ...from.collections };
    for (const collection of this.followed) {
      if ((positions[collection] ?? 0n) < watermark) positions[collection] = watermark;
    }
    // Digests of positions this stream carries over but does not read stay (PROTOCOL §4.10).
    const filters = digestsAfter(from.filters, this.followed, this.filters);
    return create(CheckpointSchema, { serverSequence: watermark, collections: positions, epoch: this.core.epoch, filters });
  }

  // ---- catch-up ---------------------------------------------------------

  private async catchUp(): Promise<void> {
    this.phase = "catching-up";
    try {
      for (;;) {
        let scope: ReadScope = { collections: this.collections, every: false };
        if (this.collections.length === 0) {
          // Listed again at each page: collections created meanwhile are read from their beginning (PROTOCOL §4.8).
          scope = await this.core.readScope(this.principal, this.collections, this.checkpoint);
          if (this.ended) return;
          this.follow(scope.collections);
        }
        // Checks the checkpoint too (a purge meanwhile), in the same view.
        const page = await this.core.readPage(scope.collections, this.checkpoint, this.options.pageSize, scope.upTo, scope.every, this.filters);
        const changes = await this.core.visibleChanges(this.principal, page.changes, this.checkpoint.collections, this.filters);
        if (this.ended) return;
        this.checkpoint = page.checkpoint;
        this.send({
          kind: "response",
          response: create(SubscribeResponseSchema, {
            event: { case: "changes", value: { changes: [...changes], checkpoint: page.checkpoint, caughtUp: !page.hasMore } },
          }),
        });
        if (!page.hasMore) break;
        if (this.blocked) await this.untilResumed();
        if (this.ended) return;
      }
    } catch (error) {
      this.finish(error);
      return;
    }
    this.phase = "live";
    this.pump();
  }

  private untilResumed(): Promise<void> {
    return new Promise((resolve) => {
      this.resumed = resolve;
    });
  }

  // ---- heartbeats and credentials ---------------------------------------

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => void this.beat(), Math.max(1, delayMs));
  }

  private async beat(): Promise<void> {
    this.timer = undefined;
    if (this.ended) return;
    try {
      await this.options.credentials?.recheck();
    } catch (error) {
      this.finish(error);
      return;
    }
    if (this.ended) return;
    const { heartbeatMs } = this.options;
    if (this.now() - this.lastSentAt >= heartbeatMs && !this.blocked && this.phase !== "opening") {
      // With nothing held, every commit up to the watermark has been sent:
      // idle collections advance without a message per commit.
      const idle = this.phase === "live" && this.held.length === 0 && !this.overflowed && !this.delivering;
      if (idle) this.checkpoint = this.advancedTo(this.watermark);
      this.send({
        kind: "response",
        response: create(SubscribeResponseSchema, {
          event: { case: "heartbeat", value: { checkpoint: this.checkpoint, serverTimeMs: BigInt(Math.floor(this.now())) } },
        }),
      });
    }
    this.arm(this.lastSentAt + heartbeatMs - this.now());
  }

  // ---- ending -----------------------------------------------------------

  private finish(error?: unknown): void {
    if (this.ended) return;
    this.release();
    this.sink.end(error);
  }

  private wake(): void {
    const resumed = this.resumed;
    this.resumed = undefined;
    resumed?.();
  }

  private release(): void {
    this.phase = "ended";
    this.wake();
    this.detach?.();
    this.detach = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.held = [];
    this.heldCount = 0;
  }
}
