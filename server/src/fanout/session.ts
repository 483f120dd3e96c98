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
  type SubscribeResponse,
} from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { Principal, SyncCore } from "../core/sync-core.js";
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
  readonly collections: readonly string[];
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

  constructor(
    private readonly core: SyncCore,
    private readonly hub: FanoutHub,
    private readonly principal: Principal,
    request: { readonly collections: readonly string[]; readonly checkpoint?: Checkpoint },
    private readonly sink: StreamSink,
    private readonly options: SessionOptions,
  ) {
    this.collections = request.collections;
    this.checkpoint = request.checkpoint ?? create(CheckpointSchema, {});
    this.now = options.now ?? Date.now;
    this.lastSentAt = this.now();
  }

  /**
   * Checks that the principal may follow these collections from this
   * checkpoint (throws before anything is sent), then starts the stream.
   */
  async open(): Promise<void> {
    await this.core.ensureReadable(this.principal, this.collections);
    this.core.ensureResumable(this.collections, this.checkpoint);
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
    const checkpoint = this.advancedTo(entry.watermark);
    if (fresh.length === 0) {
      this.checkpoint = checkpoint; // all covered by the catch-up already
      return;
    }
    const readable = this.readableOf(fresh);
    if (Array.isArray(readable)) {
      this.sendLive(readable, checkpoint);
      return;
    }
    this.delivering = true;
    (readable as Promise<readonly ChangeEvent[]>).then(
      (changes) => {
        this.delivering = false;
        if (this.phase === "ended") return;
        this.sendLive(changes, checkpoint);
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
   * The changes the principal may read: the same array when all are (so the
   * shared encoding is used), synchronously when the read rule answers
   * synchronously.
   */
  private readableOf(changes: readonly ChangeEvent[]): readonly ChangeEvent[] | Promise<readonly ChangeEvent[]> {
    const verdicts = changes.map((change) => this.core.canReadNow(this.principal, change));
    if (verdicts.some((v) => typeof v !== "boolean")) {
      return Promise.all(verdicts).then((all) => changes.filter((_, i) => all[i]));
    }
    return verdicts.every(Boolean) ? changes : changes.filter((_, i) => verdicts[i]);
  }

  /** The checkpoint once every change up to `watermark` in these collections has been sent. */
  private advancedTo(watermark: bigint): Checkpoint {
    const from = this.checkpoint;
    if (watermark <= from.serverSequence) return from;
    // Nothing but these collections, none ahead: the group's shared checkpoint.
    if (this.shared && Object.keys(from.collections).every((c) => this.collections.includes(c) && from.collections[c]! <= watermark)) {
      return this.shared.at(watermark, this.core.epoch);
    }
    const positions = { ...from.collections };
    for (const collection of this.collections) {
      if ((positions[collection] ?? 0n) < watermark) positions[collection] = watermark;
    }
    return create(CheckpointSchema, { serverSequence: watermark, collections: positions, epoch: this.core.epoch });
  }

  // ---- catch-up ---------------------------------------------------------

  private async catchUp(): Promise<void> {
    this.phase = "catching-up";
    try {
      this.core.ensureResumable(this.collections, this.checkpoint);
      for (;;) {
        const page = await this.core.readPage(this.collections, this.checkpoint, this.options.pageSize, this.core.visibleSequence);
        const changes = await this.core.readableChanges(this.principal, page.changes);
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
