// One Subscribe stream (PROTOCOL §5): catch up from the checkpoint in pages,
// then deliver live changes, with heartbeats in the silences. The subscription
// is opened before catching up, so nothing committed in between is missed;
// changes the catch-up already covered are dropped by sequence.
import { create } from "@bufbuild/protobuf";
import {
  ChangeBatchSchema,
  CheckpointSchema,
  SubscribeResponseSchema,
  type ChangeEvent,
  type Checkpoint,
  type SubscribeRequest,
  type SubscribeResponse,
} from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { Principal, SyncCore } from "../core/sync-core.js";
import { encodedChange } from "./encode-once.js";
import type { FanoutHub } from "./hub.js";

export interface StreamOptions {
  /** Responses go out in a binary codec: live changes are then encoded once for all subscribers. */
  readonly binary?: boolean;
  readonly heartbeatMs: number;
  /**
   * Re-checks the caller's credentials (a revoked or expired token); called at
   * every heartbeat, so a revocation ends open streams within one interval.
   * Throws to end the stream with that error.
   */
  readonly recheck?: () => Promise<void>;
  readonly pageSize: number;
  readonly signal: AbortSignal;
  readonly now?: () => number;
}

export async function* streamChanges(
  core: SyncCore,
  hub: FanoutHub,
  principal: Principal,
  request: SubscribeRequest,
  options: StreamOptions,
): AsyncGenerator<SubscribeResponse> {
  const { collections } = request;
  await core.ensureReadable(principal, collections);
  core.ensureResumable(collections, request.checkpoint);
  const subscription = hub.subscribe(collections);
  // The transport aborts the signal when the connection goes away, but a
  // generator suspended at a yield whose write never drains (a reader that
  // stopped reading, then vanished) never resumes to notice: release the
  // subscription from the signal itself, so the hub stops publishing to it.
  const release = () => subscription.close();
  options.signal.addEventListener("abort", release, { once: true });
  let checkpoint: Checkpoint = request.checkpoint ?? create(CheckpointSchema, {});

  const visible = async (changes: readonly ChangeEvent[]) => {
    const out: ChangeEvent[] = [];
    for (const change of changes) if (await core.canRead(principal, change)) out.push(change);
    return out;
  };

  /** Every change up to `watermark` in these collections has been sent. */
  const advancedTo = (from: Checkpoint, watermark: bigint): Checkpoint => {
    if (watermark <= from.serverSequence) return from;
    const positions = { ...from.collections };
    for (const collection of collections) {
      if ((positions[collection] ?? 0n) < watermark) positions[collection] = watermark;
    }
    return create(CheckpointSchema, { serverSequence: watermark, collections: positions, epoch: core.epoch });
  };

  async function* catchUp(): AsyncGenerator<SubscribeResponse> {
    core.ensureResumable(collections, checkpoint);
    for (;;) {
      const page = await core.readPage(collections, checkpoint, options.pageSize, core.visibleSequence);
      checkpoint = page.checkpoint;
      yield create(SubscribeResponseSchema, {
        event: { case: "changes", value: { changes: await visible(page.changes), checkpoint, caughtUp: !page.hasMore } },
      });
      if (!page.hasMore) return;
    }
  }

  const now = options.now ?? Date.now;
  // The heartbeat deadline runs from the last message sent, not the last
  // wake-up: commits in other collections wake the stream without sending
  // anything, and must not postpone the heartbeat forever.
  let lastSentAt = now();
  try {
    for await (const message of catchUp()) {
      yield message;
      lastSentAt = now();
    }
    for (;;) {
      const untilHeartbeat = lastSentAt + options.heartbeatMs - now();
      const reason = untilHeartbeat <= 0 ? "timeout" : await subscription.wait(untilHeartbeat, options.signal);
      if (reason === "closed" || options.signal.aborted) return;
      if (reason === "timeout") {
        await options.recheck?.();
        const idle = subscription.idleWatermark();
        if (idle !== undefined) checkpoint = advancedTo(checkpoint, idle);
        yield create(SubscribeResponseSchema, {
          event: { case: "heartbeat", value: { checkpoint, serverTimeMs: BigInt(Math.floor(now())) } },
        });
        lastSentAt = now();
        continue;
      }
      const delivery = subscription.take();
      if (delivery.overflowed) {
        for await (const message of catchUp()) {
          yield message;
          lastSentAt = now();
        }
        continue;
      }
      const fresh = delivery.changes.filter((c) => c.serverSequence > (checkpoint.collections[c.collection] ?? 0n));
      checkpoint = advancedTo(checkpoint, delivery.watermark);
      if (fresh.length === 0) continue; // all covered by the catch-up already
      const readable = await visible(fresh);
      const batch = create(ChangeBatchSchema, { checkpoint, caughtUp: true });
      if (options.binary) batch.$unknown = readable.map(encodedChange);
      else batch.changes = readable;
      yield create(SubscribeResponseSchema, { event: { case: "changes", value: batch } });
      lastSentAt = now();
    }
  } finally {
    options.signal.removeEventListener("abort", release);
    subscription.close();
  }
}
