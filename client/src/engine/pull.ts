// Pulling: pages of server changes applied one batch at a time with their
// checkpoint, the resync from the beginning the server may ask for (PROTOCOL
// §8.4), and the polling loop used when the live stream is off.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { CheckpointSchema, type Checkpoint, type ChangeEvent as WireChange } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { classifyError } from "./backoff.js";
import type { EngineContext } from "./context.js";
import { fromWire } from "./convert.js";
import type { PushLoop } from "./push.js";
import { Sleeper } from "./sleeper.js";

export class Puller {
  /** The wait of the poll or stream loop between attempts; forceSync, stop and a new token end it. */
  readonly sleeper = new Sleeper();
  // Remote changes apply one batch at a time, whichever loop brought them.
  private remoteQueue: Promise<unknown> = Promise.resolve();
  private resyncRun: Promise<void> | null = null;

  constructor(private readonly ctx: EngineContext) {}

  /** Applies one batch of server changes and then its checkpoint, one batch at a time. */
  applyRemote(changes: readonly WireChange[], checkpoint: Checkpoint | undefined): Promise<void> {
    const run = this.remoteQueue.then(async () => {
      await this.ctx.store.applyRemoteChanges(changes.map(fromWire), checkpoint ? toBinary(CheckpointSchema, checkpoint) : undefined);
      if (changes.length) this.ctx.status.bump({ pullCount: changes.length });
    });
    this.remoteQueue = run.catch(() => undefined);
    return run;
  }

  async loadCheckpoint(): Promise<Checkpoint> {
    const bytes = await this.ctx.store.getCheckpoint();
    return bytes ? fromBinary(CheckpointSchema, bytes) : create(CheckpointSchema);
  }

  /** Pulls every page; resyncs when the server asks (PROTOCOL §8.4). */
  async pullAll(signal?: AbortSignal): Promise<void> {
    try {
      await this.pullPages(signal);
    } catch (error) {
      if (classifyError(error) !== "resync") throw error;
      await this.resync(signal);
    }
  }

  /**
   * Pulls pages until the server has no more. The next page is asked for
   * while the current one is applied (it starts at the checkpoint the current
   * one stores), so the network and the local writes overlap; pages are still
   * applied one after the other, and none after a page that failed.
   */
  private async pullPages(signal?: AbortSignal): Promise<void> {
    const { ctx } = this;
    const { batchSize } = ctx.settings;
    const prefetch = new AbortController();
    const stopPrefetch = () => prefetch.abort(signal?.reason);
    signal?.addEventListener("abort", stopPrefetch, { once: true });
    const request = (checkpoint: Checkpoint) => {
      const call = ctx.client.pull({ ...ctx.scope, checkpoint, limit: batchSize, clientId: ctx.clientId }, ctx.callOptions(prefetch.signal));
      call.catch(() => undefined); // awaited below, unless an earlier page failed
      return call;
    };
    try {
      let checkpoint = await this.loadCheckpoint();
      let next = request(checkpoint);
      for (;;) {
        const response = await next;
        checkpoint = response.checkpoint ?? checkpoint;
        if (response.hasMore) next = request(checkpoint);
        await this.applyRemote(response.changes, response.checkpoint);
        if (!response.hasMore) break;
      }
    } finally {
      signal?.removeEventListener("abort", stopPrefetch);
      prefetch.abort();
    }
    ctx.status.touch();
  }

  /**
   * Pulls every collection from the beginning, then deletes the local documents
   * the server no longer has (unless they have pending changes), and only then
   * stores the new checkpoint, so a crash midway resyncs again. Under a filter
   * "has" means "has and matches": a changed filter (the server asks for a
   * resync, §4.10) drops every copy the new one does not cover.
   */
  resync(signal?: AbortSignal): Promise<void> {
    const { ctx } = this;
    const { collections, batchSize } = ctx.settings;
    this.resyncRun ??= (async () => {
      const seen = new Map<string, Set<string>>(collections.map((c) => [c, new Set<string>()]));
      // Following every collection, each one met is resynced (PROTOCOL §4.8).
      const follow = (collection: string) => seen.get(collection) ?? (collections.length ? undefined : seen.set(collection, new Set()).get(collection));
      let checkpoint = create(CheckpointSchema);
      for (;;) {
        const response = await ctx.client.pull({ ...ctx.scope, checkpoint, limit: batchSize, clientId: ctx.clientId }, ctx.callOptions(signal));
        for (const c of response.changes) follow(c.collection)?.add(c.documentId);
        const cp = response.checkpoint ?? checkpoint;
        const run = this.remoteQueue.then(() => ctx.store.applyRemoteChanges(response.changes.map(fromWire), undefined, { resync: true }));
        this.remoteQueue = run.catch(() => undefined);
        await run;
        if (response.changes.length) ctx.status.bump({ pullCount: response.changes.length });
        checkpoint = cp;
        if (!response.hasMore) break;
      }
      const finish = this.remoteQueue.then(() => ctx.store.finishResync(collections, seen, toBinary(CheckpointSchema, checkpoint)));
      this.remoteQueue = finish.catch(() => undefined);
      await finish;
      ctx.status.touch();
    })().finally(() => {
      this.resyncRun = null;
    });
    return this.resyncRun;
  }
}

/** Pulls every pullInterval, retrying failures with backoff in between. */
export async function pollLoop(ctx: EngineContext, puller: Puller, push: PushLoop): Promise<void> {
  const { status, settings } = ctx;
  const interval = settings.pullInterval;
  let attempt = 0;
  while (ctx.running) {
    try {
      status.setPull("busy");
      await puller.pullAll();
      attempt = 0;
      status.setPull("idle");
      if (push.stalled) push.request();
      // stop() may have come while the pull ran; its wake-up is gone by now.
      if (!ctx.running) return;
      await puller.sleeper.sleep(interval);
    } catch (error) {
      if (!ctx.running) return;
      status.report("pull", error);
      attempt++;
      const kind = classifyError(error);
      if (kind === "fatal" || !settings.autoRetry) {
        status.setPull("error");
        await puller.sleeper.sleep(interval);
      } else {
        status.setPull(attempt >= settings.maxAttempts ? "error" : "offline");
        await puller.sleeper.sleep(Math.min(interval, ctx.backoff(attempt)));
      }
    }
  }
}
