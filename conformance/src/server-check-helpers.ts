// What server-mode checks share: the check signature, push helpers,
// ordering checks and a background Subscribe reader.
import { create } from "@bufbuild/protobuf";
import { CheckpointSchema, type ChangeEvent, type Checkpoint, type PushResponse, type SubscribeResponse } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { Strategy } from "./features.js";
import type { ServerContext } from "./server-context.js";
import { CheckFailure, check, eventually, insert, pullAll, update, wireError, type SyncClient } from "./wire.js";

export type ServerCheck = (ctx: ServerContext, params: Record<string, unknown>) => Promise<void>;

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

  constructor(client: SyncClient, collections: string[], options: { checkpoint?: Checkpoint | undefined; heartbeatIntervalMs?: number; signal: AbortSignal }) {
    options.signal.addEventListener("abort", () => this.controller.abort());
    const iterable = client.subscribe(
      { collections, checkpoint: options.checkpoint, heartbeatIntervalMs: options.heartbeatIntervalMs ?? 0 },
      { signal: this.controller.signal },
    );
    this.done = (async () => {
      try {
        for await (const message of iterable) this.messages.push({ at: Date.now(), message });
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
