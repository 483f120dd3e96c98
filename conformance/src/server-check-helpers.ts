// What server-mode checks share: the check signature, push helpers,
// ordering checks and a background Subscribe reader.
import { create } from "@bufbuild/protobuf";
import { ChangeEventSchema, CheckpointSchema, type ChangeEvent, type Checkpoint, type Filter, type PushResponse, type SubscribeResponse } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { Strategy } from "./features.js";
import type { ServerContext } from "./server-context.js";
import { CheckFailure, check, eventually, insert, latestByDocument, pullAll, sleep, update, wireError, type SyncClient } from "./wire.js";

export type ServerCheck = (ctx: ServerContext, params: Record<string, unknown>) => Promise<void>;

/**
 * Starts work that runs beside the case's main line and is awaited later:
 * its failure is reported where it is awaited, instead of crashing the
 * runner as an unhandled rejection meanwhile.
 */
export function inBackground<T>(work: () => Promise<T>): Promise<T> {
  const promise = work();
  promise.catch(() => undefined);
  return promise;
}

export function accepted(res: PushResponse, i = 0): { revision: string; serverSequence: bigint } {
  const r = res.results[i];
  check(r, `push: no result ${i}`);
  check(r.outcome.case === "accepted", `push: result ${i}: expected accepted, got ${r.outcome.case} ${describeOutcome(r.outcome.value)}`);
  return r.outcome.value;
}

export function describeOutcome(value: unknown): string {
  if (value && typeof value === "object" && "reason" in value) {
    const v = value as { code: number; reason: string; message: string };
    return `(code ${v.code}, ${v.reason}: ${v.message})`;
  }
  return "";
}

export async function pushOne(ctx: ServerContext, change: ChangeEvent, clientId = ctx.clientId()): Promise<PushResponse> {
  return ctx.client().push({ clientId, changes: [change] }, { signal: ctx.signal });
}

/** Inserts documents named `${prefix}${i}` in batches; returns their accepted results in order. */
export async function insertMany(ctx: ServerContext, collection: string, n: number, prefix = "d", clientId = ctx.clientId()) {
  const out: { id: string; revision: string; serverSequence: bigint }[] = [];
  for (let start = 0; start < n; start += 500) {
    const changes = Array.from({ length: Math.min(500, n - start) }, (_, k) =>
      insert(collection, ctx.doc(`${prefix}${start + k}`), { i: start + k }, ctx.seq()),
    );
    const res = await ctx.client().push({ clientId, changes }, { signal: ctx.signal });
    changes.forEach((c, k) => out.push({ id: c.documentId, ...accepted(res, k) }));
  }
  return out;
}

export function checkIncreasing(changes: readonly ChangeEvent[], what: string): void {
  for (let i = 1; i < changes.length; i++) {
    check(
      changes[i]!.serverSequence > changes[i - 1]!.serverSequence,
      `${what}: server sequences not increasing: ${changes[i - 1]!.serverSequence} then ${changes[i]!.serverSequence}`,
    );
  }
}

export function checkOncePerDocument(changes: readonly ChangeEvent[], what: string): void {
  const seen = new Set<string>();
  for (const c of changes) {
    const key = `${c.collection}/${c.documentId}`;
    check(!seen.has(key), `${what}: ${key} appears twice in one response`);
    seen.add(key);
  }
}

/** Reads a Subscribe stream in the background. */
export class Stream {
  readonly messages: { at: number; message: SubscribeResponse }[] = [];
  error: unknown;
  ended = false;
  private readonly controller = new AbortController();
  private readonly done: Promise<void>;

  constructor(
    client: SyncClient,
    collections: string[],
    options: {
      checkpoint?: Checkpoint | undefined;
      heartbeatIntervalMs?: number;
      clientId?: string;
      /** Per collection (§4.10). */
      filters?: Record<string, Filter>;
      signal: AbortSignal;
      /**
       * A slow reader: after every `every` messages, stop reading for `ms` (the
       * server's transport fills up), until the catch-up is done if `catchUpOnly`.
       */
      pause?: { every: number; ms: number; catchUpOnly?: boolean };
    },
  ) {
    options.signal.addEventListener("abort", () => this.controller.abort());
    const iterable = client.subscribe(
      { collections, checkpoint: options.checkpoint, heartbeatIntervalMs: options.heartbeatIntervalMs ?? 0, clientId: options.clientId ?? "", filters: options.filters ?? {} },
      { signal: this.controller.signal },
    );
    const pause = options.pause;
    this.done = (async () => {
      try {
        for await (const message of iterable) {
          this.messages.push({ at: Date.now(), message });
          if (pause && this.messages.length % pause.every === 0 && !(pause.catchUpOnly && this.caughtUp())) await sleep(pause.ms);
        }
      } catch (error) {
        if (!this.controller.signal.aborted) this.error = error;
      } finally {
        this.ended = true;
      }
    })();
  }

  changes(): ChangeEvent[] {
    return this.messages.flatMap((m) => (m.message.event.case === "changes" ? m.message.event.value.changes : []));
  }

  caughtUp(): boolean {
    return this.messages.some((m) => m.message.event.case === "changes" && m.message.event.value.caughtUp);
  }

  /** The checkpoint of each message (batch or heartbeat), with the index of the message. */
  checkpoints(): { index: number; kind: "changes" | "heartbeat"; checkpoint: Checkpoint | undefined }[] {
    return this.messages.flatMap((m, index) => {
      const e = m.message.event;
      return e.case === "changes" || e.case === "heartbeat" ? [{ index, kind: e.case, checkpoint: e.value.checkpoint }] : [];
    });
  }

  heartbeats(): Checkpoint[] {
    return this.checkpoints().filter((c) => c.kind === "heartbeat").map((c) => c.checkpoint!).filter(Boolean);
  }

  lastCheckpoint(): Checkpoint | undefined {
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const e = this.messages[i]!.message.event;
      if (e.case === "changes" || e.case === "heartbeat") return e.value.checkpoint;
    }
    return undefined;
  }

  async waitFor(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    await eventually(what, async () => {
      if (this.error) throw new CheckFailure(`${what}: the stream failed: ${wireError(this.error).codeName} ${wireError(this.error).message}`);
      return predicate() ? true : undefined;
    }, timeoutMs, 20);
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.done;
  }
}

export function checkpointWith(base: Checkpoint | undefined, overrides: Partial<Pick<Checkpoint, "epoch" | "serverSequence">>): Checkpoint {
  return create(CheckpointSchema, {
    serverSequence: overrides.serverSequence ?? base?.serverSequence ?? 0n,
    collections: { ...(base?.collections ?? {}) },
    epoch: overrides.epoch ?? base?.epoch ?? "",
  });
}

// ---------------------------------------------------------------- conflicts

export interface ConflictSetup {
  collection: string;
  id: string;
  base: { revision: string };
  server: { revision: string; serverSequence: bigint; document: string };
}

/** A document at base {a:1,b:1,c:1}, then another client's update to server {a:2,b:1,c:1}. */
export async function setupConflict(ctx: ServerContext, strategy: Strategy): Promise<ConflictSetup> {
  const collection = ctx.strategyCollection(strategy);
  const id = ctx.doc(`conflict-${strategy}`);
  const base = accepted(await pushOne(ctx, insert(collection, id, { a: 1, b: 1, c: 1 }, ctx.seq()), ctx.clientId("other")));
  const document = '{"a":2,"b":1,"c":1}';
  const server = accepted(await pushOne(ctx, update(collection, id, document, base.revision, ctx.seq()), ctx.clientId("other")));
  return { collection, id, base, server: { ...server, document } };
}

export async function stateOf(ctx: ServerContext, collection: string, id: string): Promise<ChangeEvent | undefined> {
  return ctx.mine((await pullAll(ctx.client(), [collection])).changes).find((c) => c.documentId === id);
}

/**
 * What makes a stream resumable (§4.6, §5.1, §5.3, §5.5): changes arrive in
 * increasing sequence and at most once; every message carries a checkpoint
 * that covers the changes sent with or before it and none sent after it. A
 * checkpoint ahead of a change still to come (a heartbeat's while changes
 * are queued, say) loses that change for a client that resumes from it.
 * `judged`: the changes to judge (a filtered collection may repeat a document, §4.10).
 */
export function checkStreamResumable(stream: Stream, what: string, judged: (c: ChangeEvent) => boolean = () => true): void {
  const all = stream.changes().filter(judged);
  checkIncreasing(all, what);
  const seen = new Set<bigint>();
  for (const c of all) {
    check(!seen.has(c.serverSequence), `${what}: the change at sequence ${c.serverSequence} (${c.documentId}) was delivered twice on one stream (§5.5)`);
    seen.add(c.serverSequence);
  }
  // The lowest sequence delivered after each message, per collection.
  const later = new Map<string, bigint>();
  for (let i = stream.messages.length - 1; i >= 0; i--) {
    const e = stream.messages[i]!.message.event;
    if (e.case !== "changes" && e.case !== "heartbeat") continue;
    const cp = e.value.checkpoint;
    check(cp, `${what}: message ${i} (${e.case}) without a checkpoint`);
    for (const [collection, lowest] of later) {
      const position = cp.collections[collection] ?? 0n;
      check(
        position < lowest,
        `${what}: message ${i} (${e.case}) has the checkpoint position ${position} for ${collection}, but the change at sequence ${lowest} came after it: a client resuming from it would miss that change (§4.6${e.case === "heartbeat" ? ", §5.3" : ""})`,
      );
    }
    if (e.case === "changes") {
      for (const c of e.value.changes.filter(judged)) {
        const position = cp.collections[c.collection] ?? 0n;
        check(position >= c.serverSequence, `${what}: a batch's checkpoint (${position}) does not cover its own change at ${c.serverSequence} (§5.1)`);
        const lowest = later.get(c.collection);
        if (lowest === undefined || c.serverSequence < lowest) later.set(c.collection, c.serverSequence);
      }
    }
  }
}

/** A document as the server last acknowledged it. */
export interface Written {
  readonly collection: string;
  readonly id: string;
  readonly revision: string;
}

/**
 * Commits in the background until stopped, one small push after another: a
 * new document each time, round robin over `collections`, with, in the same
 * push, an update of the next of `existing` (each once), or else, every
 * third push, of one of its own earlier documents (unless `updatesOwn` is
 * false: then every change it makes stays its document's latest, and must
 * be delivered). Only this writer writes its documents, so nothing
 * conflicts; every accepted change is recorded.
 */
export class BackgroundWriter {
  readonly accepted: ChangeEvent[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    ctx: ServerContext,
    collections: readonly string[],
    options: { name: string; everyMs?: number; client?: SyncClient; existing?: readonly Written[]; updatesOwn?: boolean },
  ) {
    const clientId = ctx.clientId(options.name);
    const client = options.client ?? ctx.client();
    const revisions = new Map<string, { collection: string; revision: string }>();
    const existing = [...(options.existing ?? [])];
    let sequence = 0n;
    this.done = (async () => {
      for (let n = 0; this.running && !ctx.signal.aborted; n++) {
        const collection = collections[n % collections.length]!;
        const changes = [insert(collection, ctx.doc(`${options.name}${n}`), { n }, ++sequence)];
        const old = existing.shift();
        const earlier = [...revisions.entries()][(n * 7) % Math.max(1, revisions.size)];
        if (old) changes.push(update(old.collection, old.id, { n, updated: true }, old.revision, ++sequence));
        else if (options.updatesOwn !== false && n % 3 === 2 && earlier) changes.push(update(earlier[1].collection, earlier[0], { n, again: true }, earlier[1].revision, ++sequence));
        const res = await client.push({ clientId, changes }, { signal: ctx.signal });
        res.results.forEach((r, i) => {
          const change = changes[i]!;
          if (r.outcome.case !== "accepted") throw new CheckFailure(`the background writer's ${change.documentId} was ${r.outcome.case}`);
          revisions.set(change.documentId, { collection: change.collection, revision: r.outcome.value.revision });
          this.accepted.push(create(ChangeEventSchema, { ...change, clientId, revision: r.outcome.value.revision, serverSequence: r.outcome.value.serverSequence }));
        });
        if (options.everyMs) await sleep(options.everyMs);
      }
    })();
    this.done.catch(() => undefined); // reported by stop()
  }

  /** Stops after the push in flight; fails if a push failed. */
  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  /** The last accepted change of each document, by `collection/id`. */
  latest(): Map<string, ChangeEvent> {
    return latestByDocument([...this.accepted].sort((a, b) => (a.serverSequence < b.serverSequence ? -1 : 1)));
  }
}

/** Waits until `stream` has delivered the latest state of every document in `latest`. */
export async function waitForLatest(stream: Stream, latest: ReadonlyMap<string, ChangeEvent>, what: string, timeoutMs = 15_000): Promise<void> {
  await stream.waitFor(what, () => {
    const delivered = latestByDocument(stream.changes());
    return [...latest].every(([key, change]) => delivered.get(key)?.revision === change.revision);
  }, timeoutMs);
}

/**
 * How late this process's event loop ran while it watched: the most a 20 ms
 * timer fired after it was due. Checks that time what the server sends by
 * when it arrives allow for it.
 */
const LAG_TICK_MS = 20;

export class LoopLag {
  private max = 0;
  private due = Date.now() + LAG_TICK_MS;
  private readonly timer = setInterval(() => {
    const now = Date.now();
    this.max = Math.max(this.max, now - this.due);
    this.due = now + LAG_TICK_MS;
  }, LAG_TICK_MS);

  /** Stops watching; the worst lateness seen, in ms. */
  stop(): number {
    clearInterval(this.timer);
    return Math.max(0, this.max, Date.now() - this.due);
  }
}
