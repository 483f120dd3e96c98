// What client-mode checks share: the runner playing other users against the
// upstream server, reading the client's replica, the proxy's push records,
// hybrid logical clock stamps and the conflict scene.
import { create } from "@bufbuild/protobuf";
import { HybridLogicalClockSchema, type ChangeEvent, type Checkpoint } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { ClientContext } from "./client-mode.js";
import type { ConflictStrategy, ControlledClient } from "./control.js";
import { CheckFailure, check, checkEqual, insert, pullAll, remove, sleep, update } from "./wire.js";

export type ClientCheck = (ctx: ClientContext, params: Record<string, unknown>) => Promise<void>;

// ---------------------------------------------------------------- helpers

export interface Stamp {
  readonly wallTimeMs: bigint;
  readonly logical: number;
}

/** The runner, as another user, writes straight to the server (stamped `at`, or now). */
export async function serverWrite(ctx: ClientContext, collection: string, id: string, document: unknown, at?: Stamp): Promise<{ revision: string }> {
  const current = await serverState(ctx, collection, id);
  const change = current
    ? update(collection, id, document, current.revision, ctx.nextRunnerSequence())
    : insert(collection, id, document, ctx.nextRunnerSequence());
  if (at) change.timestamp = create(HybridLogicalClockSchema, at);
  const res = await ctx.direct.push({ clientId: ctx.runnerId, changes: [change] });
  const r = res.results[0]!;
  if (r.outcome.case !== "accepted") throw new Error(`the runner's own write of ${id} was ${r.outcome.case}`);
  return { revision: r.outcome.value.revision };
}

export async function serverDelete(ctx: ClientContext, collection: string, id: string): Promise<void> {
  const current = await serverState(ctx, collection, id);
  if (!current) throw new Error(`the runner cannot delete ${id}: not on the server`);
  const res = await ctx.direct.push({ clientId: ctx.runnerId, changes: [remove(collection, id, current.revision, ctx.nextRunnerSequence())] });
  if (res.results[0]?.outcome.case !== "accepted") throw new Error(`the runner's delete of ${id} was ${res.results[0]?.outcome.case}`);
}

export async function serverDocs(ctx: ClientContext, collection: string): Promise<Map<string, ChangeEvent>> {
  const { changes } = await pullAll(ctx.direct, [collection]);
  const out = new Map<string, ChangeEvent>();
  for (const c of changes) out.set(c.documentId, c);
  return out;
}

export async function serverState(ctx: ClientContext, collection: string, id: string): Promise<ChangeEvent | undefined> {
  return (await serverDocs(ctx, collection)).get(id);
}

export function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CheckFailure(`not JSON: ${text}`);
  }
}

/** Compares documents as JSON values (a client may re-serialise them). */
export function checkDocument(actual: string | undefined, expected: unknown, what: string): void {
  check(actual !== undefined && actual !== "", `${what}: missing`);
  checkEqual(json(actual), expected, what);
}

/** Live documents the client holds, as id -> JSON value. */
export async function clientView(client: ControlledClient, collection: string): Promise<Map<string, unknown>> {
  const docs = await client.read(collection);
  return new Map(docs.filter((d) => !d.deleted).map((d) => [d.documentId, json(d.document)]));
}

/** Every pushed change to one document, in push order, from the proxy's records. */
export function pushesOf(ctx: ClientContext, id: string): { change: ChangeEvent; record: number }[] {
  return ctx.proxy.pushes.flatMap((p, record) => p.changes.filter((c) => c.documentId === id).map((change) => ({ change, record })));
}

export async function checkConverged(ctx: ClientContext, collection: string, clients: ControlledClient[]): Promise<void> {
  const server = await serverDocs(ctx, collection);
  const expected = new Map([...server].filter(([, c]) => !c.deleted).map(([id, c]) => [id, json(c.document)]));
  for (const client of clients) {
    const view = await clientView(client, collection);
    checkEqual(
      [...view].sort(([a], [b]) => (a < b ? -1 : 1)),
      [...expected].sort(([a], [b]) => (a < b ? -1 : 1)),
      `${client.name}'s documents equal the server's`,
    );
    for (const d of await client.read(collection)) {
      if (d.deleted || !d.revision) continue;
      checkEqual(d.revision, server.get(d.documentId)?.revision, `${client.name}: revision of ${d.documentId}`);
    }
  }
}

/** A stamp an hour ahead of this machine's clock: another user's clock runs fast (the server accepts up to 24 h, §10.3). */
export function anHourAhead(logical = 0): Stamp {
  return { wallTimeMs: BigInt(Date.now()) + 3_600_000n, logical };
}

/** Orders hybrid logical clock stamps (§10.1, without the client id). */
export function compareStamps(a: Stamp, b: Stamp): number {
  if (a.wallTimeMs !== b.wallTimeMs) return a.wallTimeMs < b.wallTimeMs ? -1 : 1;
  return a.logical === b.logical ? 0 : a.logical < b.logical ? -1 : 1;
}

export function isEmptyCheckpoint(c: Checkpoint | undefined): boolean {
  return !c || (c.serverSequence === 0n && Object.keys(c.collections).length === 0 && c.epoch === "");
}

export interface ConflictScene {
  client: ControlledClient;
  collection: string;
  id: string;
  serverDoc: unknown;
  localDoc: unknown;
  /** How many pushes of the document there were before the conflicting one. */
  before: number;
}

export interface SceneOptions {
  /** Hidden from pulls, the outcome reaches the client only in the push result. */
  readonly hide?: boolean;
  readonly base?: Record<string, unknown>;
  readonly serverDoc?: Record<string, unknown>;
  readonly localDoc?: Record<string, unknown>;
  /** The other user's stamp for the server's version; default now (earlier than the local write). */
  readonly remoteAt?: Stamp;
}

/** The client has v1; another user writes v2 on the server; the client writes v3 and syncs. */
export async function conflictScene(ctx: ClientContext, collection: string, strategy: ConflictStrategy, options: SceneOptions = {}): Promise<ConflictScene> {
  const id = ctx.doc("c");
  const base = options.base ?? { a: 1, b: 1, c: 1 };
  await serverWrite(ctx, collection, id, base);
  const client = await ctx.start({ collections: [collection], conflictStrategy: strategy });
  await client.syncUntilOk();
  checkDocument((await client.readOne(collection, id))?.document, base, "the client has the first version");
  const serverDoc = options.serverDoc ?? { a: 2, b: 1, c: 1 };
  if (options.hide) ctx.proxy.hiddenDocuments.add(id);
  await serverWrite(ctx, collection, id, serverDoc, options.remoteAt);
  // The local write comes a clear millisecond after the other user's stamp, so it is the later one (§10.1).
  await sleep(3);
  const localDoc = options.localDoc ?? { a: 1, b: 3, c: 1 };
  await client.write(collection, id, localDoc);
  const before = pushesOf(ctx, id).length;
  await client.syncUntilOk();
  await client.syncUntilOk();
  return { client, collection, id, serverDoc, localDoc, before };
}

export function conflictedPush(ctx: ClientContext, s: ConflictScene, expected: "conflict" | "resolved"): { change: ChangeEvent; record: number } {
  const attempts = pushesOf(ctx, s.id).slice(s.before);
  check(attempts.length > 0, "the local change was not pushed");
  const first = attempts[0]!;
  const results = ctx.proxy.pushes[first.record]!.results ?? [];
  const index = ctx.proxy.pushes[first.record]!.changes.indexOf(first.change);
  const outcome = results[index]?.outcome.case;
  check(outcome === expected, `the server answered the local change with ${outcome ?? "nothing"}, the case expects ${expected} (is the client's base_revision the one it last received?)`);
  return first;
}
