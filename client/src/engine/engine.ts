// The sync engine: pushes the outbox (./push.ts), follows the server with
// Subscribe (./stream.ts) or polls with Pull (./pull.ts), settles conflicts
// (./conflicts.ts), retries with backoff and recovers from network loss and
// server restarts by itself. It talks to the local database only through the
// SyncStore interface (../store.ts). This file holds the public API and wires
// the loops together.
import type { Observable, Subscription } from "rxjs";
import { EngineContext } from "./context.js";
import { Puller, pollLoop } from "./pull.js";
import { PushLoop } from "./push.js";
import { LiveStream } from "./stream.js";
import type { SyncEngine, SyncEngineConfig, SyncError, SyncStats, SyncStatus, Syncable } from "./types.js";

export type {
  ClientConflict,
  ConflictStrategy,
  CustomConflictResolver,
  SyncCollection,
  SyncDirection,
  SyncEngine,
  SyncEngineConfig,
  SyncError,
  SyncFilter,
  SyncFilterValue,
  SyncStats,
  SyncStatus,
  Syncable,
} from "./types.js";

export function createSyncEngine(db: Syncable, config: SyncEngineConfig): SyncEngine {
  return new Engine(new EngineContext("syncStore" in db ? db.syncStore : db, config));
}

class Engine implements SyncEngine {
  readonly errors$: Observable<SyncError>;
  private readonly push: PushLoop;
  private readonly puller: Puller;
  private readonly stream: LiveStream;
  private destroyed = false;
  private outboxSub: Subscription | null = null;
  private pullLoop: Promise<void> | null = null;

  constructor(private readonly ctx: EngineContext) {
    this.errors$ = ctx.status.errors.asObservable();
    this.push = new PushLoop(ctx);
    this.puller = new Puller(ctx);
    this.stream = new LiveStream(ctx, this.puller, this.push);
  }

  async start(): Promise<void> {
    const { ctx } = this;
    if (this.destroyed) throw new Error("sync engine destroyed");
    if (ctx.running) return;
    ctx.running = true;
    this.push.start();
    await ctx.loadClientId();
    if (ctx.pushes) {
      this.outboxSub = ctx.store.outboxChanged.subscribe(() => this.push.request());
      this.push.request();
    }
    if (ctx.pulls) this.pullLoop = ctx.settings.useStream ? this.stream.run() : pollLoop(ctx, this.puller, this.push);
  }

  async forceSync(): Promise<void> {
    const { ctx } = this;
    if (this.destroyed) throw new Error("sync engine destroyed");
    await ctx.ensureClientId();
    try {
      if (ctx.pushes) {
        await this.push.settle();
        await this.push.once();
      }
      if (ctx.pulls) {
        ctx.status.setPull("busy");
        await this.puller.pullAll();
        ctx.status.setPull("idle");
      }
      if (ctx.pushes && (await ctx.store.pendingCount(ctx.settings.collections)) > 0) await this.push.once();
      ctx.status.touch();
    } catch (error) {
      ctx.status.report(ctx.pulls ? "pull" : "push", error);
      throw error;
    } finally {
      // A waiting retry goes now, and a stopped stream reconnects.
      this.push.wake();
      this.puller.sleeper.wake();
      if (ctx.running && ctx.pushes) this.push.request();
    }
  }

  async stop(): Promise<void> {
    const { ctx } = this;
    if (!ctx.running) return;
    ctx.running = false;
    this.outboxSub?.unsubscribe();
    this.outboxSub = null;
    this.push.halt();
    this.stream.halt();
    this.puller.sleeper.wake();
    await Promise.allSettled([this.push.settle(), this.pullLoop]);
    this.pullLoop = null;
    ctx.status.reset();
  }

  destroy(): void {
    if (this.destroyed) return;
    void this.stop().finally(() => this.ctx.status.complete());
    this.destroyed = true;
  }

  setAuthToken(token: string): void {
    const { ctx } = this;
    ctx.token = token;
    if (!ctx.running) return;
    if (ctx.pushes) {
      this.push.wake();
      this.push.request();
    }
    this.stream.reauthenticate();
    this.puller.sleeper.wake();
  }

  getStatus(): Observable<SyncStatus> {
    return this.ctx.status.status$.asObservable();
  }

  getStats(): Observable<SyncStats> {
    return this.ctx.status.stats$.asObservable();
  }
}
