// The push loop: sends the outbox in batches, one run at a time, retrying
// failures with backoff, and stores what the server answered per change.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { PushRequestSchema, type PushResponse } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { Acknowledgement, PendingChange } from "../store.js";
import { classifyError } from "./backoff.js";
import { resolveConflict, withIdentity } from "./conflicts.js";
import type { EngineContext } from "./context.js";
import { fromWire, toWire } from "./convert.js";
import { Sleeper } from "./sleeper.js";

export class PushLoop {
  // One run at a time; a request during a run makes it go round again.
  private run: Promise<void> | null = null;
  private again = false;
  private abort = new AbortController();
  private readonly sleeper = new Sleeper();

  constructor(private readonly ctx: EngineContext) {}

  /** The engine starts: calls may go out again. */
  start(): void {
    this.abort = new AbortController();
  }

  /** The engine stops: aborts the call in flight and ends a backoff wait (settle() waits for the run to end). */
  halt(): void {
    this.abort.abort();
    this.sleeper.wake();
  }

  /** Ends a backoff wait, so the waiting retry goes now. */
  wake(): void {
    this.sleeper.wake();
  }

  /** True when pushing failed and waits (for a retry or a new trigger). */
  get stalled(): boolean {
    const state = this.ctx.status.push;
    return state === "error" || state === "offline";
  }

  /** Starts a run, or makes the current one go round again. */
  request(): void {
    if (!this.ctx.running) return;
    if (this.run) {
      this.again = true;
      return;
    }
    this.run = this.loop().finally(() => {
      this.run = null;
    });
  }

  /** Waits for the current run, if any, ignoring its failure. */
  async settle(): Promise<void> {
    await this.run?.catch(() => undefined);
  }

  /** Pushes until the outbox is empty, retrying failures with backoff. */
  private async loop(): Promise<void> {
    const { ctx } = this;
    let attempt = 0;
    while (ctx.running) {
      this.again = false;
      try {
        await this.once(this.abort.signal);
        attempt = 0;
        if (!this.again) return;
      } catch (error) {
        if (!ctx.running) return;
        const kind = classifyError(error);
        ctx.status.report("push", error);
        attempt++;
        if (kind !== "retry" || !ctx.settings.autoRetry || attempt >= ctx.settings.maxAttempts) {
          // Nothing is dropped: the next local write, forceSync, token or reconnect carries on.
          ctx.status.setPush("error");
          return;
        }
        ctx.status.setPush("offline");
        await this.sleeper.sleep(ctx.backoff(attempt));
      }
    }
  }

  /** One pass over the outbox; throws when a call fails. */
  async once(signal?: AbortSignal): Promise<void> {
    const { ctx } = this;
    ctx.status.setPush("busy");
    let limit = ctx.settings.batchSize;
    for (;;) {
      const batch = await ctx.store.pendingChanges(ctx.settings.collections, limit);
      if (batch.length === 0) break;
      let response;
      try {
        response = await ctx.client.push(
          create(PushRequestSchema, { clientId: ctx.clientId, changes: batch.map(toWire) }),
          ctx.callOptions(signal),
        );
      } catch (error) {
        // A batch over the server's message limit may be refused by its RPC
        // stack with the bare code (PROTOCOL §11): halve it and go again at
        // once; a single change that is still too large fails as usual.
        if (ConnectError.from(error).code === Code.ResourceExhausted && batch.length > 1) {
          limit = Math.ceil(batch.length / 2);
          continue;
        }
        throw error;
      }
      const answered = await this.handleResults(batch, response.results);
      ctx.status.touch();
      if (answered === 0) throw new ConnectError("the server returned no result for the pushed changes", Code.Internal);
    }
    ctx.status.setPush("idle");
  }

  /**
   * Stores the server's answer to each change of a batch; returns how many it
   * answered. The accepted ones (nearly all) are acknowledged together in one
   * write; the rest, one by one. Each change is a different document, so the
   * order between them does not matter.
   */
  private async handleResults(batch: PendingChange[], results: PushResponse["results"]): Promise<number> {
    const { ctx } = this;
    const { store, status } = ctx;
    const bySequence = new Map(batch.map((c) => [c.clientSequence, c]));
    const answered: Array<[PendingChange, PushResponse["results"][number]["outcome"]]> = [];
    const accepted: Acknowledgement[] = [];
    for (const result of results) {
      const change = bySequence.get(result.clientSequence);
      if (!change) continue;
      answered.push([change, result.outcome]);
      const outcome = result.outcome;
      if (outcome.case === "accepted") accepted.push({ change, accepted: { revision: outcome.value.revision, serverSequence: outcome.value.serverSequence } });
    }
    if (accepted.length > 0) {
      if (store.acknowledgeAll) await store.acknowledgeAll(accepted);
      else for (const ack of accepted) await store.acknowledge(ack.change, ack.accepted);
      status.bump({ pushCount: accepted.length });
    }
    for (const [change, outcome] of answered) {
      switch (outcome.case) {
        case "resolved": {
          const current = outcome.value.current;
          if (current) await store.adoptServerState(change, fromWire(withIdentity(current, change)));
          status.bump({ pushCount: 1, conflictCount: 1 });
          break;
        }
        case "conflict": {
          status.bump({ conflictCount: 1 });
          const current = outcome.value.current;
          if (current) await resolveConflict(ctx, change, fromWire(withIdentity(current, change)));
          break;
        }
        case "rejected": {
          const r = outcome.value;
          await store.reject(change);
          status.report("rejected", new ConnectError(`${r.reason}: ${r.message}`, r.code), change);
          break;
        }
        default:
          break;
      }
    }
    return answered.length;
  }
}
