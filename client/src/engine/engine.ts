// The sync engine: pushes the outbox, follows the server with Subscribe (or
// polls with Pull), settles conflicts, retries with backoff and recovers from
// network loss and server restarts by itself. It talks to the local database
// only through the SyncStore interface (../store.ts).
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type CallOptions, type Client, type Transport } from "@connectrpc/connect";
import { BehaviorSubject, Subject, type Observable, type Subscription } from "rxjs";
import {
  builtInResolvers,
  jsonEqual,
  type Conflict,
  type ConflictStrategyName,
  type JsonObject,
  type Resolution,
} from "../../../common/src/index.js";
import {
  CheckpointSchema,
  PushRequestSchema,
  SyncService,
  type Checkpoint,
  type ChangeEvent as WireChange,
} from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { PendingChange, RemoteChange, SyncStore } from "../store.js";
import { createWebTransport, type TransportKind } from "../transport/index.js";
import { backoffDelay, classifyError } from "./backoff.js";
import { fromWire, toWire } from "./convert.js";

export type SyncStatus = "idle" | "syncing" | "error" | "offline";
export type SyncDirection = "push" | "pull" | "both";
export type ConflictStrategy = ConflictStrategyName | "custom";

export interface SyncStats {
  /** Changes the server took (accepted or resolved). */
  readonly pushCount: number;
  /** Server changes received and applied. */
  readonly pullCount: number;
  /** Conflicts met (settled by the server or by this client). */
  readonly conflictCount: number;
  /** When a push or pull last completed (ms since the epoch), or null. */
  readonly lastSyncAt: number | null;
}

/** What a custom resolver sees: the common conflict plus the seed's local/remote documents. */
export interface ClientConflict extends Conflict {
  /** The local state with `_id`, or null for a local delete. */
  readonly localDocument: (JsonObject & { _id: string }) | null;
  /** The server state with `_id` and `_rev`, or null for a server tombstone. */
  readonly remoteDocument: (JsonObject & { _id: string; _rev: string }) | null;
}

/**
 * A custom resolver returns either a Resolution (`{winner: "server"}`,
 * `{winner: "client"}`, `{winner: "merged", document}`) or, as in the seed,
 * the resolved document itself (reserved keys are dropped; null deletes).
 */
export type CustomConflictResolver = (
  conflict: ClientConflict,
) => Resolution | JsonObject | null | Promise<Resolution | JsonObject | null>;

export interface SyncEngineConfig {
  /** The server's base URL, e.g. http://localhost:8080. */
  readonly serverUrl: string;
  readonly authToken?: string;
  /** The collections to sync. */
  readonly collections: readonly string[];
  readonly direction?: SyncDirection;
  /** Keep the live Subscribe stream open (default true); false polls with Pull every pullInterval. */
  readonly useWebSocket?: boolean;
  readonly pullInterval?: number;
  readonly conflictStrategy?: ConflictStrategy;
  readonly conflictResolver?: CustomConflictResolver;
  readonly autoRetry?: boolean;
  /** The first retry delay in ms; doubles per attempt, with jitter. */
  readonly retryDelay?: number;
  /** Attempts after which the status turns 'error' (pushes stop until the next trigger). */
  readonly maxRetryAttempts?: number;
  /** The longest wait between retries (default 30 s). */
  readonly maxRetryDelay?: number;
  /** "connect" (default), "grpc-web", "grpc" (Node entry only) or a ready Transport. */
  readonly transport?: TransportKind | Transport;
  /** Changes per push and per pull page (default 100; pushes at most 500). */
  readonly batchSize?: number;
  /** Heartbeat interval asked of the server (default 10 s); three silent intervals end the stream. */
  readonly heartbeatInterval?: number;
  /** Random source for jitter (tests). */
  readonly random?: () => number;
}

export interface SyncError {
  /** What failed: a push or pull call, the stream, or a change the server rejected. */
  readonly kind: "push" | "pull" | "rejected";
  readonly error: ConnectError;
  readonly collection?: string;
  readonly documentId?: string;
}

export interface SyncEngine {
  start(): Promise<void>;
  /** Pushes everything pending and pulls everything new, now. Rejects if either fails. */
  forceSync(): Promise<void>;
  stop(): Promise<void>;
  destroy(): void;
  /** Uses a new token from now on and re-opens the live stream with it. */
  setAuthToken(token: string): void;
  getStatus(): Observable<SyncStatus>;
  getStats(): Observable<SyncStats>;
  /** Failed calls and rejected changes. */
  readonly errors$: Observable<SyncError>;
}

/** Anything the engine can sync: a SyncStore, or a database that exposes one. */
export type Syncable = SyncStore | { readonly syncStore: SyncStore };

type PartState = "idle" | "busy" | "offline" | "error";

const MAX_PUSH = 500;

export function createSyncEngine(db: Syncable, config: SyncEngineConfig): SyncEngine {
  return new Engine("syncStore" in db ? db.syncStore : db, config);
}

/** Waits `ms`, or less if woken. */
class Sleeper {
  private wakeFn: (() => void) | null = null;
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.wakeFn === done) self.wakeFn = null;
        resolve();
      }
      this.wakeFn = done;
    });
  }
  wake(): void {
    this.wakeFn?.();
  }
}

class Engine implements SyncEngine {
  private readonly status$ = new BehaviorSubject<SyncStatus>("idle");
  private readonly stats$ = new BehaviorSubject<SyncStats>({ pushCount: 0, pullCount: 0, conflictCount: 0, lastSyncAt: null });
  private readonly errorSubject = new Subject<SyncError>();
  readonly errors$ = this.errorSubject.asObservable();

  private readonly client: Client<typeof SyncService>;
  private readonly collections: string[];
  private readonly direction: SyncDirection;
  private readonly strategy: ConflictStrategy;
  private readonly batchSize: number;
  private readonly retryDelay: number;
  private readonly maxRetryDelay: number;
  private readonly maxAttempts: number;
  private readonly autoRetry: boolean;
  private readonly random: () => number;
  private token: string | undefined;

  private running = false;
  private destroyed = false;
  private pushState: PartState = "idle";
  private pullState: PartState = "idle";

  // Push: one run at a time; a request during a run makes it go round again.
  private pushRun: Promise<void> | null = null;
  private pushAgain = false;
  private pushAbort = new AbortController();
  private readonly pushSleeper = new Sleeper();
  private outboxSub: Subscription | null = null;

  // Pull: the stream or polling loop, and a lock so remote changes apply one batch at a time.
  private pullLoop: Promise<void> | null = null;
  private readonly pullSleeper = new Sleeper();
  private streamAbort: AbortController | null = null;
  private remoteQueue: Promise<unknown> = Promise.resolve();
  private resyncRun: Promise<void> | null = null;
  private clientIdValue: string | undefined;

  constructor(
    private readonly store: SyncStore,
    private readonly config: SyncEngineConfig,
  ) {
    if (config.collections.length === 0) throw new Error("createSyncEngine: collections must not be empty");
    if (config.conflictStrategy === "custom" && !config.conflictResolver) throw new Error("createSyncEngine: conflictStrategy 'custom' needs a conflictResolver");
    this.collections = [...new Set(config.collections)];
    this.direction = config.direction ?? "both";
    this.strategy = config.conflictStrategy ?? "last-write-wins";
    this.batchSize = Math.max(1, Math.min(config.batchSize ?? 100, MAX_PUSH));
    this.retryDelay = config.retryDelay ?? 1000;
    this.maxRetryDelay = config.maxRetryDelay ?? 30_000;
    this.maxAttempts = config.maxRetryAttempts ?? 5;
    this.autoRetry = config.autoRetry ?? true;
    this.random = config.random ?? Math.random;
    this.token = config.authToken;
    const transport = config.transport ?? "connect";
    if (transport === "grpc") {
      throw new Error("transport 'grpc' needs Node: import createSyncEngine from the Node entry (client/src/node.ts)");
    }
    this.client = createClient(SyncService, typeof transport === "string" ? createWebTransport(transport, config.serverUrl) : transport);
  }

  // ---- public API ----

  async start(): Promise<void> {
    if (this.destroyed) throw new Error("sync engine destroyed");
    if (this.running) return;
    this.running = true;
    this.pushAbort = new AbortController();
    this.clientIdValue = await this.store.clientId();
    if (this.pushes()) {
      this.outboxSub = this.store.outboxChanged.subscribe(() => this.requestPush());
      this.requestPush();
    }
    if (this.pulls()) this.pullLoop = this.config.useWebSocket === false ? this.pollLoop() : this.streamLoop();
  }

  async forceSync(): Promise<void> {
    if (this.destroyed) throw new Error("sync engine destroyed");
    this.clientIdValue ??= await this.store.clientId();
    try {
      if (this.pushes()) {
        await this.pushRun?.catch(() => undefined);
        await this.pushOnce();
      }
      if (this.pulls()) {
        this.setPull("busy");
        await this.pullAll();
        this.setPull("idle");
      }
      if (this.pushes() && (await this.store.pendingCount(this.collections)) > 0) await this.pushOnce();
      this.touch();
    } catch (error) {
      this.report(this.pulls() ? "pull" : "push", error);
      throw error;
    } finally {
      // A waiting retry goes now, and a stopped stream reconnects.
      this.pushSleeper.wake();
      this.pullSleeper.wake();
      if (this.running && this.pushes()) this.requestPush();
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.outboxSub?.unsubscribe();
    this.outboxSub = null;
    this.pushAbort.abort();
    this.streamAbort?.abort();
    this.pushSleeper.wake();
    this.pullSleeper.wake();
    await Promise.allSettled([this.pushRun, this.pullLoop]);
    this.pullLoop = null;
    this.pushState = "idle";
    this.pullState = "idle";
    this.updateStatus();
  }

  destroy(): void {
    if (this.destroyed) return;
    void this.stop().finally(() => {
      this.status$.complete();
      this.stats$.complete();
      this.errorSubject.complete();
    });
    this.destroyed = true;
  }

  setAuthToken(token: string): void {
    this.token = token;
    if (!this.running) return;
    if (this.pushes()) {
      this.pushSleeper.wake();
      this.requestPush();
    }
    if (this.streamAbort) this.streamAbort.abort(new ReauthSignal());
    this.pullSleeper.wake();
  }

  getStatus(): Observable<SyncStatus> {
    return this.status$.asObservable();
  }

  getStats(): Observable<SyncStats> {
    return this.stats$.asObservable();
  }

  // ---- helpers ----

  private pushes() {
    return this.direction !== "pull";
  }
  private pulls() {
    return this.direction !== "push";
  }

  private callOptions(signal?: AbortSignal): CallOptions {
    return {
      ...(this.token !== undefined ? { headers: { authorization: `Bearer ${this.token}` } } : {}),
      ...(signal ? { signal } : {}),
    };
  }

  private setPush(state: PartState) {
    this.pushState = state;
    this.updateStatus();
  }
  private setPull(state: PartState) {
    this.pullState = state;
    this.updateStatus();
  }
  private updateStatus() {
    const states = [this.pushState, this.pullState];
    const status: SyncStatus = states.includes("error")
      ? "error"
      : states.includes("offline")
        ? "offline"
        : states.includes("busy")
          ? "syncing"
          : "idle";
    if (!this.status$.closed && this.status$.value !== status) this.status$.next(status);
  }
  private bumpStats(delta: Partial<Record<"pushCount" | "pullCount" | "conflictCount", number>>) {
    const s = this.stats$.value;
    if (this.stats$.closed) return;
    this.stats$.next({
      ...s,
      pushCount: s.pushCount + (delta.pushCount ?? 0),
      pullCount: s.pullCount + (delta.pullCount ?? 0),
      conflictCount: s.conflictCount + (delta.conflictCount ?? 0),
    });
  }
  private touch() {
    if (!this.stats$.closed) this.stats$.next({ ...this.stats$.value, lastSyncAt: Date.now() });
  }
  private report(kind: SyncError["kind"], error: unknown, change?: { collection: string; documentId: string }) {
    if (this.errorSubject.closed) return;
    this.errorSubject.next({ kind, error: ConnectError.from(error), ...(change ? { collection: change.collection, documentId: change.documentId } : {}) });
  }
  private backoff(attempt: number) {
    return backoffDelay(attempt, this.retryDelay, this.maxRetryDelay, this.random);
  }
  private get clientId(): string {
    if (this.clientIdValue === undefined) throw new Error("client id not loaded");
    return this.clientIdValue;
  }

  // ---- push ----

  private requestPush(): void {
    if (!this.running) return;
    if (this.pushRun) {
      this.pushAgain = true;
      return;
    }
    this.pushRun = this.pushLoop().finally(() => {
      this.pushRun = null;
    });
  }

  /** Pushes until the outbox is empty, retrying failures with backoff. */
  private async pushLoop(): Promise<void> {
    let attempt = 0;
    while (this.running) {
      this.pushAgain = false;
      try {
        await this.pushOnce(this.pushAbort.signal);
        attempt = 0;
        if (!this.pushAgain) return;
      } catch (error) {
        if (!this.running) return;
        const kind = classifyError(error);
        this.report("push", error);
        attempt++;
        if (kind !== "retry" || !this.autoRetry || attempt >= this.maxAttempts) {
          // Nothing is dropped: the next local write, forceSync, token or reconnect carries on.
          this.setPush("error");
          return;
        }
        this.setPush("offline");
        await this.pushSleeper.sleep(this.backoff(attempt));
      }
    }
  }

  /** One pass over the outbox; throws when a call fails. */
  private async pushOnce(signal?: AbortSignal): Promise<void> {
    this.setPush("busy");
    let limit = this.batchSize;
    for (;;) {
      const batch = await this.store.pendingChanges(this.collections, limit);
      if (batch.length === 0) break;
      let response;
      try {
        response = await this.client.push(
          create(PushRequestSchema, { clientId: this.clientId, changes: batch.map(toWire) }),
          this.callOptions(signal),
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
      this.touch();
      if (answered === 0) throw new ConnectError("the server returned no result for the pushed changes", Code.Internal);
    }
    this.setPush("idle");
  }

  private async handleResults(batch: PendingChange[], results: Awaited<ReturnType<Client<typeof SyncService>["push"]>>["results"]) {
    const bySequence = new Map(batch.map((c) => [c.clientSequence, c]));
    let answered = 0;
    for (const result of results) {
      const change = bySequence.get(result.clientSequence);
      if (!change) continue;
      answered++;
      const outcome = result.outcome;
      switch (outcome.case) {
        case "accepted":
          await this.store.acknowledge(change, { revision: outcome.value.revision, serverSequence: outcome.value.serverSequence });
          this.bumpStats({ pushCount: 1 });
          break;
        case "resolved": {
          const current = outcome.value.current;
          if (current) await this.store.adoptServerState(change, fromWire(withIdentity(current, change)));
          this.bumpStats({ pushCount: 1, conflictCount: 1 });
          break;
        }
        case "conflict": {
          this.bumpStats({ conflictCount: 1 });
          const current = outcome.value.current;
          if (current) await this.resolveConflict(change, fromWire(withIdentity(current, change)));
          break;
        }
        case "rejected": {
          const r = outcome.value;
          await this.store.reject(change);
          this.report("rejected", new ConnectError(`${r.reason}: ${r.message}`, r.code), change);
          break;
        }
        default:
          break;
      }
    }
    return answered;
  }

  /** Settles a conflict the server reported with the configured strategy (PROTOCOL §7.1). */
  private async resolveConflict(change: PendingChange, current: RemoteChange): Promise<void> {
    const conflict: Conflict = {
      collection: change.collection,
      documentId: change.documentId,
      client: { document: change.document, timestamp: change.timestamp, clientId: this.clientId },
      server: { document: current.document, timestamp: current.timestamp, clientId: current.clientId },
      ...(change.baseDocument !== undefined ? { base: change.baseDocument } : {}),
    };
    let resolution: Resolution;
    if (this.strategy === "custom") {
      const resolver = this.config.conflictResolver!;
      const out = await resolver({
        ...conflict,
        localDocument: change.document === null ? null : { ...change.document, _id: change.documentId },
        remoteDocument: current.document === null ? null : { ...current.document, _id: current.documentId, _rev: current.revision },
      });
      resolution = asResolution(out);
    } else {
      resolution = await builtInResolvers[this.strategy](conflict);
    }
    const document = resolution.winner === "server" ? current.document : resolution.winner === "client" ? change.document : resolution.document;
    if (resolution.winner === "server" || jsonEqual(document, current.document)) {
      await this.store.adoptServerState(change, current);
    } else {
      await this.store.rebase(change, current, document);
    }
  }

  // ---- pull ----

  /** Applies one batch of server changes and then its checkpoint, one batch at a time. */
  private applyRemote(changes: readonly WireChange[], checkpoint: Checkpoint | undefined): Promise<void> {
    const run = this.remoteQueue.then(async () => {
      await this.store.applyRemoteChanges(changes.map(fromWire), checkpoint ? toBinary(CheckpointSchema, checkpoint) : undefined);
      if (changes.length) this.bumpStats({ pullCount: changes.length });
    });
    this.remoteQueue = run.catch(() => undefined);
    return run;
  }

  private async loadCheckpoint(): Promise<Checkpoint> {
    const bytes = await this.store.getCheckpoint();
    return bytes ? fromBinary(CheckpointSchema, bytes) : create(CheckpointSchema);
  }

  /** Pulls every page; resyncs when the server asks (PROTOCOL §8.4). */
  private async pullAll(signal?: AbortSignal): Promise<void> {
    try {
      await this.pullPages(signal);
    } catch (error) {
      if (classifyError(error) !== "resync") throw error;
      await this.resync(signal);
    }
  }

  private async pullPages(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const checkpoint = await this.loadCheckpoint();
      const response = await this.client.pull(
        { collections: this.collections, checkpoint, limit: this.batchSize, clientId: this.clientId },
        this.callOptions(signal),
      );
      await this.applyRemote(response.changes, response.checkpoint);
      if (!response.hasMore) break;
    }
    this.touch();
  }

  /**
   * Pulls every collection from the beginning, then deletes the local documents
   * the server no longer has (unless they have pending changes), and only then
   * stores the new checkpoint, so a crash midway resyncs again.
   */
  private resync(signal?: AbortSignal): Promise<void> {
    this.resyncRun ??= (async () => {
      const seen = new Map<string, Set<string>>(this.collections.map((c) => [c, new Set<string>()]));
      let checkpoint = create(CheckpointSchema);
      for (;;) {
        const response = await this.client.pull(
          { collections: this.collections, checkpoint, limit: this.batchSize, clientId: this.clientId },
          this.callOptions(signal),
        );
        for (const c of response.changes) seen.get(c.collection)?.add(c.documentId);
        const cp = response.checkpoint ?? checkpoint;
        const run = this.remoteQueue.then(() => this.store.applyRemoteChanges(response.changes.map(fromWire), undefined, { resync: true }));
        this.remoteQueue = run.catch(() => undefined);
        await run;
        if (response.changes.length) this.bumpStats({ pullCount: response.changes.length });
        checkpoint = cp;
        if (!response.hasMore) break;
      }
      const finish = this.remoteQueue.then(() => this.store.finishResync(this.collections, seen, toBinary(CheckpointSchema, checkpoint)));
      this.remoteQueue = finish.catch(() => undefined);
      await finish;
      this.touch();
    })().finally(() => {
      this.resyncRun = null;
    });
    return this.resyncRun;
  }

  /** Pulls every pullInterval, retrying failures with backoff in between. */
  private async pollLoop(): Promise<void> {
    let attempt = 0;
    const interval = this.config.pullInterval ?? 30_000;
    while (this.running) {
      try {
        this.setPull("busy");
        await this.pullAll();
        attempt = 0;
        this.setPull("idle");
        if (this.pushState === "error" || this.pushState === "offline") this.requestPush();
        // stop() may have come while the pull ran; its wake-up is gone by now.
        if (!this.running) return;
        await this.pullSleeper.sleep(interval);
      } catch (error) {
        if (!this.running) return;
        this.report("pull", error);
        attempt++;
        const kind = classifyError(error);
        if (kind === "fatal" || !this.autoRetry) {
          this.setPull("error");
          await this.pullSleeper.sleep(interval);
        } else {
          this.setPull(attempt >= this.maxAttempts ? "error" : "offline");
          await this.pullSleeper.sleep(Math.min(interval, this.backoff(attempt)));
        }
      }
    }
  }

  /** Keeps Subscribe open: catch up, follow live, reconnect after any end (PROTOCOL §5.4). */
  private async streamLoop(): Promise<void> {
    let attempt = 0;
    const heartbeat = this.config.heartbeatInterval ?? 10_000;
    while (this.running) {
      const abort = new AbortController();
      this.streamAbort = abort;
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      const arm = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => abort.abort(new SilentStream()), heartbeat * 3);
      };
      try {
        if (this.pullState !== "error" && this.pullState !== "offline") this.setPull("busy");
        const checkpoint = await this.loadCheckpoint();
        arm();
        const stream = this.client.subscribe(
          { collections: this.collections, checkpoint, clientId: this.clientId, heartbeatIntervalMs: heartbeat },
          this.callOptions(abort.signal),
        );
        for await (const message of stream) {
          arm();
          const event = message.event;
          if (event.case === "changes") {
            await this.applyRemote(event.value.changes, event.value.checkpoint);
            if (event.value.caughtUp) {
              if (attempt > 0 || this.pullState !== "idle") {
                // Reconnected: whatever waits in the outbox goes now.
                if (this.pushState === "error" || this.pushState === "offline") this.pushSleeper.wake();
                this.requestPush();
              }
              attempt = 0;
              this.setPull("idle");
              this.touch();
            }
          } else if (event.case === "heartbeat" && event.value.checkpoint) {
            await this.applyRemote([], event.value.checkpoint);
          }
        }
        // The server ended the stream: resume from the stored checkpoint, at
        // once if it had caught up, after a short backoff if it ended early.
        if (this.pullState !== "idle") {
          attempt++;
          await this.pullSleeper.sleep(this.backoff(attempt));
        }
      } catch (error) {
        if (!this.running) break;
        const reason: unknown = abort.signal.reason;
        if (abort.signal.aborted && reason instanceof ReauthSignal) continue;
        const kind = classifyError(error);
        if (kind === "resync") {
          try {
            await this.resync(abort.signal);
            continue;
          } catch (resyncError) {
            error = resyncError;
          }
        }
        this.report("pull", error);
        attempt++;
        if (classifyError(error) === "fatal" || !this.autoRetry) {
          this.setPull("error");
          await this.pullSleeper.sleep(this.maxRetryDelay); // or until forceSync / setAuthToken
        } else {
          this.setPull(attempt >= this.maxAttempts ? "error" : "offline");
          await this.pullSleeper.sleep(this.backoff(attempt));
        }
      } finally {
        clearTimeout(watchdog);
        this.streamAbort = null;
      }
    }
  }
}

class ReauthSignal extends Error {
  constructor() {
    super("re-authenticating");
  }
}
class SilentStream extends Error {
  constructor() {
    super("no message for three heartbeat intervals");
  }
}

/** Conflict and Resolved carry the current state; make sure it names the document. */
function withIdentity(current: WireChange, change: PendingChange): WireChange {
  if (current.collection && current.documentId) return current;
  return { ...current, collection: change.collection, documentId: change.documentId };
}

function asResolution(out: Resolution | JsonObject | null): Resolution {
  if (out !== null && typeof out === "object" && "winner" in out) {
    const keys = Object.keys(out);
    const w = (out as { winner: unknown }).winner;
    if ((w === "server" || w === "client") && keys.length === 1) return out as Resolution;
    if (w === "merged" && keys.every((k) => k === "winner" || k === "document")) return out as Resolution;
  }
  if (out === null) return { winner: "merged", document: null };
  const document: JsonObject = {};
  for (const [k, v] of Object.entries(out as JsonObject)) if (k !== "_id" && k !== "_rev" && k !== "_deleted") document[k] = v;
  return { winner: "merged", document };
}
