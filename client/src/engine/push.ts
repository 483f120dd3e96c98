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

  /** Starts a run, or makes the current one go round again (never with direction "pull"). */
  request(): void {
    // The stream and the poll loop wake pushes after a reconnect, whatever the direction.
    if (!this.ctx.running || !this.ctx.pushes) return;
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

  /**
   * One pass over the outbox; throws when a call fails. One push is on the
   * wire at a time, so the server commits this client's changes in the order
   * they were read, but the local work overlaps the network: while a batch
   * travels, the result of the previous one is stored and then the next batch
   * is read, without the travelling batch's documents (each document is in
   * one push at a time, and a document written again while its batch
   * travelled goes in a later push, once its result gave it a base revision).
   */
  async once(signal?: AbortSignal): Promise<void> {
    const { ctx } = this;
    ctx.status.setPush("busy");
    let limit = ctx.settings.batchSize;
    let batch = await this.nextBatch(limit);
    let storing: Promise<void> | null = null; // the previous batch's results
    try {
      while (batch.length > 0) {
        const travelling = batch;
        const call = ctx.client.push(create(PushRequestSchema, { clientId: ctx.clientId, changes: travelling.map(toWire) }), ctx.callOptions(signal));
        call.catch(() => undefined); // awaited below
        const stored = storing;
        storing = null;
        const following = (async () => {
          await stored;
          return this.nextBatch(limit, travelling);
        })();
        following.catch(() => undefined); // awaited below
        let response;
        try {
          response = await call;
        } catch (error) {
          await following;
          // A batch over the server's message limit may be refused by its RPC
          // stack with the bare code (PROTOCOL §11): halve it and go again at
          // once; a single change that is still too large fails as usual.
          if (ConnectError.from(error).code === Code.ResourceExhausted && travelling.length > 1) {
            limit = Math.ceil(travelling.length / 2);
            batch = await this.nextBatch(limit);
            continue;
          }
          throw error;
        }
        batch = await following;
        storing = this.storeResults(travelling, response.results);
        storing.catch(() => undefined); // awaited with the next batch or below
        if (batch.length === 0) {
          // What was written while the last batch travelled is pending again once its results are stored.
          await storing;
          storing = null;
          batch = await this.nextBatch(limit);
        }
      }
    } finally {
      // Failing, still let the last results be stored before the next run reads the outbox.
      await storing?.catch(() => undefined);
    }
    ctx.status.setPush("idle");
  }

  /** The next `limit` pending changes, without those of the `travelling` batch. */
  private async nextBatch(limit: number, travelling: readonly PendingChange[] = []): Promise<PendingChange[]> {
    const { store, settings } = this.ctx;
    if (travelling.length === 0) return store.pendingChanges(settings.collections, limit);
    const onTheWire = new Set(travelling.map((c) => `${c.collection}/${c.documentId}`));
    // The travelling changes are the oldest pending ones: read past them.
    const changes = await store.pendingChanges(settings.collections, limit + travelling.length);
    return changes.filter((c) => !onTheWire.has(`${c.collection}/${c.documentId}`)).slice(0, limit);
  }

  private async storeResults(batch: PendingChange[], results: PushResponse["results"]): Promise<void> {
    const answered = await this.handleResults(batch, results);
    this.ctx.status.touch();
    if (answered === 0) throw new ConnectError("the server returned no result for the pushed changes", Code.Internal);
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
