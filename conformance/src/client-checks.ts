// Named checks of client-mode cases (conformance/cases/client-*.yaml). Each
// drives the client under test over the control protocol, plays other users
// directly against the upstream server, injects faults with the proxy, and
// judges what the client sent by the proxy's records.
import { create, equals } from "@bufbuild/protobuf";
import {
  CheckpointSchema,
  HybridLogicalClockSchema,
  Operation,
  type ChangeEvent,
  type Checkpoint,
} from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { ConflictStrategy, SyncMode, type ControlledClient } from "./control.js";
import { STRATEGY_COLLECTIONS, type ClientContext } from "./client-mode.js";
import { CheckFailure, check, checkEqual, eventually, insert, pullAll, remove, sleep, stringify, update } from "./wire.js";

export type ClientCheck = (ctx: ClientContext, params: Record<string, unknown>) => Promise<void>;

// ---------------------------------------------------------------- helpers

interface Stamp {
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

async function serverDelete(ctx: ClientContext, collection: string, id: string): Promise<void> {
  const current = await serverState(ctx, collection, id);
  if (!current) throw new Error(`the runner cannot delete ${id}: not on the server`);
  const res = await ctx.direct.push({ clientId: ctx.runnerId, changes: [remove(collection, id, current.revision, ctx.nextRunnerSequence())] });
  if (res.results[0]?.outcome.case !== "accepted") throw new Error(`the runner's delete of ${id} was ${res.results[0]?.outcome.case}`);
}

async function serverDocs(ctx: ClientContext, collection: string): Promise<Map<string, ChangeEvent>> {
  const { changes } = await pullAll(ctx.direct, [collection]);
  const out = new Map<string, ChangeEvent>();
  for (const c of changes) out.set(c.documentId, c);
  return out;
}

export async function serverState(ctx: ClientContext, collection: string, id: string): Promise<ChangeEvent | undefined> {
  return (await serverDocs(ctx, collection)).get(id);
}

function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CheckFailure(`not JSON: ${text}`);
  }
}

/** Compares documents as JSON values (a client may re-serialise them). */
function checkDocument(actual: string | undefined, expected: unknown, what: string): void {
  check(actual !== undefined && actual !== "", `${what}: missing`);
  checkEqual(json(actual), expected, what);
}

/** Live documents the client holds, as id -> JSON value. */
export async function clientView(client: ControlledClient, collection: string): Promise<Map<string, unknown>> {
  const docs = await client.read(collection);
  return new Map(docs.filter((d) => !d.deleted).map((d) => [d.documentId, json(d.document)]));
}

/** Every pushed change to one document, in push order, from the proxy's records. */
function pushesOf(ctx: ClientContext, id: string): { change: ChangeEvent; record: number }[] {
  return ctx.proxy.pushes.flatMap((p, record) => p.changes.filter((c) => c.documentId === id).map((change) => ({ change, record })));
}

async function checkConverged(ctx: ClientContext, collection: string, clients: ControlledClient[]): Promise<void> {
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
function anHourAhead(logical = 0): Stamp {
  return { wallTimeMs: BigInt(Date.now()) + 3_600_000n, logical };
}

/** Orders hybrid logical clock stamps (§10.1, without the client id). */
function compareStamps(a: Stamp, b: Stamp): number {
  if (a.wallTimeMs !== b.wallTimeMs) return a.wallTimeMs < b.wallTimeMs ? -1 : 1;
  return a.logical === b.logical ? 0 : a.logical < b.logical ? -1 : 1;
}

function isEmptyCheckpoint(c: Checkpoint | undefined): boolean {
  return !c || (c.serverSequence === 0n && Object.keys(c.collections).length === 0 && c.epoch === "");
}

// ---------------------------------------------------------------- push

const pushInsert: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const client = await ctx.start();
  const id = ctx.doc("t1");
  const document = { title: "Café ☕", tags: ["a", "b"], nested: { n: 1.5, ok: true, none: null } };
  await client.write(todos, id, document);
  await client.syncUntilOk();
  const pushed = pushesOf(ctx, id);
  checkEqual(pushed.length, 1, "pushes of the new document");
  const { change } = pushed[0]!;
  const record = ctx.proxy.pushes[pushed[0]!.record]!;
  checkEqual(change.operation, Operation.INSERT, "operation of a new document");
  checkEqual(change.baseRevision, "", "base_revision of a new document (§6.2)");
  check(change.clientSequence > 0n, "client_sequence above 0");
  check(change.timestamp && change.timestamp.wallTimeMs > 0n, "a hybrid logical clock timestamp");
  checkEqual(record.clientId, client.info?.clientId, "the push carries the client id the client reported");
  const doc = json(change.document) as Record<string, unknown>;
  check(!("_id" in doc) && !("_rev" in doc) && !("_deleted" in doc), "reserved keys stripped before pushing (§3.3)");
  checkDocument(change.document, document, "the pushed document");
  checkDocument((await serverState(ctx, todos, id))?.document, document, "the server's document");
  const local = await client.readOne(todos, id);
  checkEqual(local?.revision, (await serverState(ctx, todos, id))?.revision, "the client keeps the accepted revision");
  checkEqual(local?.pending, false, "no longer pending after sync");
};

const pushUpdateDelete: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const client = await ctx.start();
  const id = ctx.doc("t1");
  await client.write(todos, id, { v: 1 });
  await client.syncUntilOk();
  const rev1 = (await serverState(ctx, todos, id))!.revision;
  await client.write(todos, id, { v: 2 });
  await client.syncUntilOk();
  const [, second] = pushesOf(ctx, id);
  check(second, "the update was not pushed");
  checkEqual(second.change.operation, Operation.UPDATE, "operation of an update");
  checkEqual(second.change.baseRevision, rev1, "base_revision is the revision last received (§6.2)");
  const rev2 = (await serverState(ctx, todos, id))!.revision;
  await client.delete(todos, id);
  await client.syncUntilOk();
  const third = pushesOf(ctx, id)[2];
  check(third, "the delete was not pushed");
  checkEqual(third.change.operation, Operation.DELETE, "operation of a delete");
  checkEqual(third.change.document, "", "a delete carries no document (§6.4)");
  checkEqual(third.change.baseRevision, rev2, "base_revision of the delete");
  checkEqual((await serverState(ctx, todos, id))?.deleted, true, "the server holds a tombstone");
  checkEqual(await client.readOne(todos, id), undefined, "the document is gone locally");
};

const pushSequences: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const client = await ctx.start();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 3; i++) await client.write(todos, ctx.doc(`d${round}-${i}`), { round, i });
    await client.syncUntilOk();
  }
  const sequences = ctx.proxy.pushes.flatMap((p) => p.changes.map((c) => c.clientSequence));
  checkEqual(sequences.length, 9, "changes pushed");
  checkEqual(new Set(sequences).size, 9, "client_sequence unique per change (§9.1)");
  const sorted = [...sequences].sort((a, b) => (a < b ? -1 : 1));
  checkEqual(sequences, sorted, "client_sequence increasing (§9.1, SHOULD)");
  checkEqual((await serverDocs(ctx, todos)).size, 9, "documents on the server");
};

const pushClockObserves: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const id = ctx.doc("skewed");
  const remote = anHourAhead(5);
  await serverWrite(ctx, todos, id, { v: 1 }, remote);
  const client = await ctx.start();
  await client.syncUntilOk();
  checkDocument((await client.readOne(todos, id))?.document, { v: 1 }, "the change stamped an hour ahead arrives");
  await client.write(todos, id, { v: 2 });
  await client.write(todos, ctx.doc("other"), { v: 1 });
  await client.syncUntilOk();
  for (const doc of [id, ctx.doc("other")]) {
    const pushed = pushesOf(ctx, doc)[0];
    check(pushed, `${doc} was not pushed`);
    const ts = pushed.change.timestamp;
    check(
      ts && compareStamps(ts, remote) > 0,
      `a write made after receiving a change stamped ${stringify(remote)} must be stamped later, whatever the wall clock says (§10.2); ${doc} was stamped ${stringify(ts)}`,
    );
  }
};

// ---------------------------------------------------------------- pull

const pullReceives: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const docs = { [ctx.doc("a")]: { t: "é ☕ 🛒" }, [ctx.doc("b")]: { n: [1, 2, { x: null }] }, [ctx.doc("c")]: { big: 12345678901234 } };
  for (const [id, d] of Object.entries(docs)) await serverWrite(ctx, todos, id, d);
  const client = await ctx.start();
  await client.syncUntilOk();
  checkEqual(Object.fromEntries(await clientView(client, todos)), docs, "the client has the server's documents");
  for (const d of await client.read(todos)) {
    checkEqual(d.revision, (await serverState(ctx, todos, d.documentId))?.revision, `revision of ${d.documentId}`);
  }
  // Updates and deletes by others arrive too.
  await serverWrite(ctx, todos, ctx.doc("a"), { t: "changed" });
  await serverDelete(ctx, todos, ctx.doc("b"));
  await client.syncUntilOk();
  checkDocument((await client.readOne(todos, ctx.doc("a")))?.document, { t: "changed" }, "an update by another user");
  checkEqual(await client.readOne(todos, ctx.doc("b")), undefined, "a delete by another user (§8.1)");
};

const pullPagination: ClientCheck = async (ctx, params) => {
  const n = Number(params.documents ?? 1100);
  const todos = ctx.collection();
  for (let start = 0; start < n; start += 500) {
    const changes = Array.from({ length: Math.min(500, n - start) }, (_, k) => insert(todos, ctx.doc(`p${start + k}`), { i: start + k }, ctx.nextRunnerSequence()));
    await ctx.direct.push({ clientId: ctx.runnerId, changes });
  }
  const client = await ctx.start();
  await client.syncUntilOk();
  checkEqual((await clientView(client, todos)).size, n, "documents after following has_more (§4.7)");
  const pulls = ctx.proxy.pulls.filter((p) => p.collections.includes(todos));
  check(pulls.length >= 2, "the client pulled more than one page");
  // A client may run more than one puller (a background poll beside sync_now),
  // so pulls are not paired by arrival order: every pull starts from the empty
  // checkpoint or from one an earlier response carried, byte for byte, and the
  // client does follow has_more from a page's checkpoint.
  const sentEarlier = (i: number, cp: Checkpoint, hasMore: boolean) =>
    pulls.slice(0, i).some((q) => q.response?.checkpoint && (!hasMore || q.response.hasMore) && equals(CheckpointSchema, q.response.checkpoint, cp));
  pulls.forEach((p, i) => {
    if (isEmptyCheckpoint(p.checkpoint)) return;
    check(sentEarlier(i, p.checkpoint!, false), `each page is pulled from a checkpoint the server sent, unchanged (§4.4): ${stringify(p.checkpoint)}`);
  });
  check(
    pulls.some((p, i) => !isEmptyCheckpoint(p.checkpoint) && sentEarlier(i, p.checkpoint!, true)),
    "the client follows has_more: it pulls the next page from a has_more page's checkpoint (§4.7)",
  );
};

const pullNoEcho: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  await serverWrite(ctx, todos, ctx.doc("theirs"), { by: "runner" });
  const client = await ctx.start();
  await client.syncUntilOk();
  await client.write(todos, ctx.doc("mine"), { by: "client" });
  await client.syncUntilOk();
  await serverWrite(ctx, todos, ctx.doc("theirs"), { by: "runner", v: 2 });
  await client.syncUntilOk();
  await client.syncUntilOk();
  const echoed = pushesOf(ctx, ctx.doc("theirs"));
  checkEqual(echoed.length, 0, "changes received from the server are never pushed back (§9.3)");
  checkEqual(pushesOf(ctx, ctx.doc("mine")).length, 1, "the client's own change is pushed once");
  checkEqual((await client.status()).pendingChanges, 0, "nothing pending");
};

// ---------------------------------------------------------------- resume

const resumeCheckpoint: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  await serverWrite(ctx, todos, ctx.doc("a"), { v: 1 });
  let client = await ctx.start();
  await client.syncUntilOk();
  const served = ctx.proxy.pulls.filter((p) => p.response).at(-1)?.response?.checkpoint;
  check(served, "the client pulled nothing");
  const status = await client.status();
  check(status.checkpoint && equals(CheckpointSchema, status.checkpoint, served), `the client stores the checkpoint as received (§4.4): got ${stringify(status.checkpoint)}, served ${stringify(served)}`);
  await client.shutdown();
  await serverWrite(ctx, todos, ctx.doc("b"), { v: 1 });
  const before = ctx.proxy.pulls.length;
  client = await ctx.start();
  await client.syncUntilOk();
  const first = ctx.proxy.pulls[before];
  check(first, "the restarted client did not pull");
  check(first.checkpoint && equals(CheckpointSchema, first.checkpoint, served), `the restarted client resumes from its stored checkpoint (§9.4): sent ${stringify(first.checkpoint)}, expected ${stringify(served)}`);
  checkEqual([...(await clientView(client, todos)).keys()].sort(), [ctx.doc("a"), ctx.doc("b")], "documents after the restart");
};

const resumeCrash: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  await serverWrite(ctx, todos, ctx.doc("a"), { v: 1 });
  let client = await ctx.start();
  await client.syncUntilOk();
  await client.kill();
  await serverWrite(ctx, todos, ctx.doc("b"), { v: 1 });
  const before = ctx.proxy.pulls.length;
  client = await ctx.start();
  await client.syncUntilOk();
  const first = ctx.proxy.pulls[before];
  check(first && !isEmptyCheckpoint(first.checkpoint), "after kill -9 the client resumes from a stored checkpoint, not from the beginning (§9.4)");
  checkEqual([...(await clientView(client, todos)).keys()].sort(), [ctx.doc("a"), ctx.doc("b")], "documents after the crash");
};

const resumeOutbox: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  let client = await ctx.start({ startOffline: true });
  await client.write(todos, ctx.doc("offline"), { v: 1 });
  const id1 = client.info?.clientId;
  await client.shutdown();
  checkEqual(ctx.proxy.pushes.length, 0, "an offline client pushes nothing");
  client = await ctx.start({ startOffline: true });
  checkEqual(client.info?.clientId, id1, "the client id is stable for the life of the local database (§9.1)");
  checkEqual((await client.status()).pendingChanges, 1, "the outbox survives a restart (§9.2)");
  await client.setOnline(true);
  await client.syncUntilOk();
  checkDocument((await serverState(ctx, todos, ctx.doc("offline")))?.document, { v: 1 }, "the pending change is pushed after the restart");
  checkEqual(ctx.proxy.pushes[0]?.clientId, id1, "pushed with the stable client id");
};

// ---------------------------------------------------------------- retry

async function retryCase(ctx: ClientContext, fault: "drop" | "lose-response" | "unavailable", times: number): Promise<void> {
  const todos = ctx.collection();
  const client = await ctx.start();
  const id = ctx.doc("r");
  await client.write(todos, id, { v: 1 });
  ctx.proxy.inject("push", { kind: fault }, times);
  await client.syncUntilOk(times + 8);
  const attempts = pushesOf(ctx, id);
  check(attempts.length >= times + 1, `expected the push to be retried after ${times} ${fault} fault(s), saw ${attempts.length} attempt(s)`);
  const sequences = new Set(attempts.map((a) => a.change.clientSequence));
  checkEqual(sequences.size, 1, `every retry of the change reuses its client_sequence (§9.1); saw ${[...sequences].join(", ")}`);
  const first = attempts[0]!.change;
  for (const a of attempts) {
    checkEqual(a.change.document, first.document, "a retry sends the same document");
    checkEqual(a.change.baseRevision, first.baseRevision, "a retry sends the same base revision");
  }
  const server = await serverState(ctx, todos, id);
  checkDocument(server?.document, { v: 1 }, "the server's document");
  checkEqual(server?.clientSequence, first.clientSequence, "the server holds the change exactly once");
  const local = await client.readOne(todos, id);
  checkEqual(local?.revision, server?.revision, "the client adopts the revision of the (once) applied change");
  checkEqual(local?.pending, false, "the change is no longer pending");
  checkEqual(ctx.proxy.pendingFaults("push"), 0, "every injected fault was hit");
}

const retryDrop: ClientCheck = (ctx, params) => retryCase(ctx, "drop", Number(params.times ?? 1));
const retryLostResponse: ClientCheck = (ctx, params) => retryCase(ctx, "lose-response", Number(params.times ?? 1));
const retryUnavailable: ClientCheck = (ctx, params) => retryCase(ctx, "unavailable", Number(params.times ?? 2));

const retryDelay: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const client = await ctx.start();
  await client.write(todos, ctx.doc("slow"), { v: 1 });
  ctx.proxy.inject("push", { kind: "delay", ms: 1500 });
  ctx.proxy.inject("pull", { kind: "delay", ms: 1500 });
  await client.syncUntilOk();
  checkEqual(new Set(pushesOf(ctx, ctx.doc("slow")).map((a) => a.change.clientSequence)).size, 1, "one client_sequence across attempts");
  checkDocument((await serverState(ctx, todos, ctx.doc("slow")))?.document, { v: 1 }, "a slow server still gets the change");
};

const retryPullFaults: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  for (let i = 0; i < 5; i++) await serverWrite(ctx, todos, ctx.doc(`p${i}`), { i });
  const client = await ctx.start();
  ctx.proxy.inject("pull", { kind: "drop" });
  ctx.proxy.inject("pull", { kind: "unavailable" });
  ctx.proxy.inject("pull", { kind: "lose-response" });
  await client.syncUntilOk(12);
  await client.syncUntilOk();
  checkEqual((await clientView(client, todos)).size, 5, "every document arrives despite failed pulls");
  // A lost pull response must not advance the stored checkpoint: every pull
  // starts from a checkpoint the client actually received.
  const received = ctx.proxy.pulls.filter((p) => p.response && p.fault !== "lose-response").map((p) => p.response!.checkpoint);
  for (const p of ctx.proxy.pulls) {
    if (isEmptyCheckpoint(p.checkpoint)) continue;
    check(received.some((r) => r && equals(CheckpointSchema, r, p.checkpoint!)), `a pull was sent with a checkpoint the client never received: ${stringify(p.checkpoint)}`);
  }
};

// ---------------------------------------------------------------- conflicts

interface ConflictScene {
  client: ControlledClient;
  collection: string;
  id: string;
  serverDoc: unknown;
  localDoc: unknown;
  /** How many pushes of the document there were before the conflicting one. */
  before: number;
}

interface SceneOptions {
  /** Hidden from pulls, the outcome reaches the client only in the push result. */
  readonly hide?: boolean;
  readonly base?: Record<string, unknown>;
  readonly serverDoc?: Record<string, unknown>;
  readonly localDoc?: Record<string, unknown>;
  /** The other user's stamp for the server's version; default now (earlier than the local write). */
  readonly remoteAt?: Stamp;
}

/** The client has v1; another user writes v2 on the server; the client writes v3 and syncs. */
async function conflictScene(ctx: ClientContext, collection: string, strategy: ConflictStrategy, options: SceneOptions = {}): Promise<ConflictScene> {
  const id = ctx.doc("c");
  const base = options.base ?? { a: 1, b: 1, c: 1 };
  await serverWrite(ctx, collection, id, base);
  const client = await ctx.start({ collections: [collection], conflictStrategy: strategy });
  await client.syncUntilOk();
  checkDocument((await client.readOne(collection, id))?.document, base, "the client has the first version");
  const serverDoc = options.serverDoc ?? { a: 2, b: 1, c: 1 };
  if (options.hide) ctx.proxy.hiddenDocuments.add(id);
  await serverWrite(ctx, collection, id, serverDoc, options.remoteAt);
  const localDoc = options.localDoc ?? { a: 1, b: 3, c: 1 };
  await client.write(collection, id, localDoc);
  const before = pushesOf(ctx, id).length;
  await client.syncUntilOk();
  await client.syncUntilOk();
  return { client, collection, id, serverDoc, localDoc, before };
}

function conflictedPush(ctx: ClientContext, s: ConflictScene, expected: "conflict" | "resolved"): { change: ChangeEvent; record: number } {
  const attempts = pushesOf(ctx, s.id).slice(s.before);
  check(attempts.length > 0, "the local change was not pushed");
  const first = attempts[0]!;
  const results = ctx.proxy.pushes[first.record]!.results ?? [];
  const index = ctx.proxy.pushes[first.record]!.changes.indexOf(first.change);
  const outcome = results[index]?.outcome.case;
  check(outcome === expected, `the server answered the local change with ${outcome ?? "nothing"}, the case expects ${expected} (is the client's base_revision the one it last received?)`);
  return first;
}

const conflictLocalWins: ClientCheck = async (ctx) => {
  const s = await conflictScene(ctx, ctx.collection(), ConflictStrategy.LOCAL_WINS);
  const first = conflictedPush(ctx, s, "conflict");
  const attempts = pushesOf(ctx, s.id).slice(s.before);
  const resolution = attempts[1];
  check(resolution, "after Conflict, a local-wins client pushes its document again (§7.1)");
  const server = await serverState(ctx, s.collection, s.id);
  check(resolution.change.clientSequence !== first.change.clientSequence, "the resolution has a new client_sequence (§7.1)");
  checkDocument(server?.document, s.localDoc, "the server holds the local document");
  checkEqual(attempts.length, 2, "pushes of the document: the conflicting change and its resolution");
  const local = await s.client.readOne(s.collection, s.id);
  checkDocument(local?.document, s.localDoc, "the client keeps its document");
  checkEqual(local?.revision, server?.revision, "the client has the server's new revision");
  checkEqual(local?.pending, false, "nothing pending");
};

const conflictRemoteWins: ClientCheck = async (ctx) => {
  const s = await conflictScene(ctx, ctx.collection(), ConflictStrategy.REMOTE_WINS, { hide: true });
  conflictedPush(ctx, s, "conflict");
  checkEqual(pushesOf(ctx, s.id).length - s.before, 1, "a remote-wins client does not push again after Conflict");
  const server = await serverState(ctx, s.collection, s.id);
  checkDocument(server?.document, s.serverDoc, "the server keeps its document");
  const local = await s.client.readOne(s.collection, s.id);
  checkDocument(local?.document, s.serverDoc, "the client adopts the server's document");
  checkEqual(local?.revision, server?.revision, "and its revision");
  checkEqual(local?.pending, false, "nothing pending");
};

const conflictClientMerge: ClientCheck = async (ctx, params) => {
  const strategy = params.strategy === "last-write-wins" ? ConflictStrategy.LAST_WRITE_WINS : ConflictStrategy.MERGE;
  const s = await conflictScene(ctx, ctx.collection(), strategy);
  conflictedPush(ctx, s, "conflict");
  await checkConverged(ctx, s.collection, [s.client]);
  const local = await s.client.readOne(s.collection, s.id);
  const doc = json(local!.document) as Record<string, unknown>;
  // The local write is later than the other user's, so b = 3 either way.
  checkEqual(doc.b, 3, "the later local change to b survives");
  checkEqual(local?.pending, false, "nothing pending");
};

const conflictLwwRemoteLater: ClientCheck = async (ctx) => {
  const s = await conflictScene(ctx, ctx.collection(), ConflictStrategy.LAST_WRITE_WINS, { remoteAt: anHourAhead() });
  conflictedPush(ctx, s, "conflict");
  checkEqual(pushesOf(ctx, s.id).length - s.before, 1, "the local change is the earlier write, so it loses: nothing more is pushed (§10.1)");
  const server = await serverState(ctx, s.collection, s.id);
  checkDocument(server?.document, s.serverDoc, "the server keeps the later (remote) document");
  const local = await s.client.readOne(s.collection, s.id);
  checkDocument(local?.document, s.serverDoc, "the client adopts the later (remote) document");
  checkEqual(local?.revision, server?.revision, "and its revision");
  checkEqual(local?.pending, false, "nothing pending");
};

const conflictMergeThreeWay: ClientCheck = async (ctx) => {
  const s = await conflictScene(ctx, ctx.collection(), ConflictStrategy.MERGE, {
    base: { a: 1, b: 1, c: 1, d: 1 },
    serverDoc: { a: 2, b: 1, c: 6, d: 1, e: 1 },
    localDoc: { a: 1, b: 3, c: 5 },
    remoteAt: anHourAhead(),
  });
  conflictedPush(ctx, s, "conflict");
  await checkConverged(ctx, s.collection, [s.client]);
  const local = await s.client.readOne(s.collection, s.id);
  checkDocument(
    local?.document,
    { a: 2, b: 3, c: 6, e: 1 },
    "three-way merge against the version the client received (§7): a and e from the remote change, b and the removal of d from the local one, c (changed by both) from the later, remote write",
  );
  checkEqual(local?.pending, false, "nothing pending");
};

async function resolvedCase(ctx: ClientContext, strategy: keyof typeof STRATEGY_COLLECTIONS, expectDoc: (s: ConflictScene) => unknown): Promise<void> {
  const s = await conflictScene(ctx, STRATEGY_COLLECTIONS[strategy], ConflictStrategy.UNSPECIFIED, { hide: true });
  const first = conflictedPush(ctx, s, "resolved");
  const result = ctx.proxy.pushes[first.record]!.results![ctx.proxy.pushes[first.record]!.changes.indexOf(first.change)]!;
  check(result.outcome.case === "resolved", "resolved");
  const current = result.outcome.value.current!;
  checkEqual(pushesOf(ctx, s.id).length - s.before, 1, "after Resolved the client does not push the document again (§7.2, §9.3)");
  const local = await s.client.readOne(s.collection, s.id);
  checkDocument(local?.document, json(current.document), "the client adopts Resolved.current (§7.2)");
  checkEqual(local?.revision, current.revision, "and its revision");
  checkEqual(local?.pending, false, "nothing pending");
  const expected = expectDoc(s);
  if (expected !== undefined) checkDocument(current.document, expected, `the ${strategy} outcome`);
  // A further local write builds on the adopted revision: no conflict.
  ctx.proxy.hiddenDocuments.clear();
  await s.client.write(s.collection, s.id, { after: true });
  await s.client.syncUntilOk();
  const last = pushesOf(ctx, s.id).at(-1)!;
  checkEqual(last.change.baseRevision, current.revision, "the next push is based on the adopted revision");
  checkDocument((await serverState(ctx, s.collection, s.id))?.document, { after: true }, "the next write is accepted");
}

const resolvedServerWins: ClientCheck = (ctx) => resolvedCase(ctx, "server-wins", (s) => s.serverDoc);
const resolvedClientWins: ClientCheck = (ctx) => resolvedCase(ctx, "client-wins", (s) => s.localDoc);
const resolvedMerge: ClientCheck = (ctx) => resolvedCase(ctx, "merge", () => undefined);
const resolvedLww: ClientCheck = (ctx) => resolvedCase(ctx, "last-write-wins", (s) => s.localDoc);

// ---------------------------------------------------------------- offline

const offlineNoNetwork: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const client = await ctx.start();
  await client.syncUntilOk();
  await client.setOnline(false);
  const calls = () => ctx.proxy.pushes.length + ctx.proxy.pulls.length + ctx.proxy.subscribes.length;
  const before = calls();
  await client.write(todos, ctx.doc("o"), { v: 1 });
  await client.syncNow().catch(() => undefined);
  await sleep(300);
  checkEqual(calls(), before, "an offline client makes no calls");
  checkEqual((await client.status()).online, false, "status reports offline");
  await client.setOnline(true);
  await client.syncUntilOk();
  checkDocument((await serverState(ctx, todos, ctx.doc("o")))?.document, { v: 1 }, "pushed once back online");
};

const offlineLatestOnce: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const client = await ctx.start({ startOffline: true });
  const id = ctx.doc("x");
  for (let v = 1; v <= 4; v++) await client.write(todos, id, { v });
  await client.write(todos, ctx.doc("y"), { v: 1 });
  await client.setOnline(true);
  await client.syncUntilOk();
  const pushed = pushesOf(ctx, id);
  checkEqual(pushed.length, 1, "a document written 4 times offline is pushed once (§9.2)");
  checkDocument(pushed[0]!.change.document, { v: 4 }, "with its latest state");
  checkEqual(pushed[0]!.change.operation, Operation.INSERT, "as an insert (never seen by the server)");
  for (const p of ctx.proxy.pushes) {
    const ids = p.changes.map((c) => `${c.collection}/${c.documentId}`);
    checkEqual(new Set(ids).size, ids.length, "at most one change per document per push (§9.2)");
  }
};

// ---------------------------------------------------------------- tombstones

const tombstoneResync: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  await serverWrite(ctx, todos, ctx.doc("keep"), { v: 1 });
  await serverWrite(ctx, todos, ctx.doc("gone"), { v: 1 });
  const client = await ctx.start();
  await client.syncUntilOk();
  checkEqual((await clientView(client, todos)).size, 2, "the client has both documents");
  await client.setOnline(false);
  await client.write(todos, ctx.doc("pending"), { local: true });
  await serverDelete(ctx, todos, ctx.doc("gone"));
  await serverWrite(ctx, todos, ctx.doc("new"), { v: 1 });
  // Wait until the tombstone is purged (retention 300 ms, purge every 100 ms).
  await eventually("the server purges the tombstone", async () => {
    const all = await serverDocs(ctx, todos);
    return all.has(ctx.doc("gone")) ? undefined : true;
  }, 10_000, 100);
  await client.setOnline(true);
  await client.syncUntilOk();
  const refused = ctx.proxy.pulls.some((p) => p.error?.includes("RESYNC") || p.error?.includes("failed_precondition"));
  check(refused, "the client's pull was refused with resync-required (the scenario did not happen)");
  const view = await clientView(client, todos);
  checkEqual([...view.keys()].sort(), [ctx.doc("keep"), ctx.doc("new"), ctx.doc("pending")].sort(), "after resync: the purged document is gone, the pending one kept (§8.4)");
  checkDocument((await serverState(ctx, todos, ctx.doc("pending")))?.document, { local: true }, "the pending change is pushed as usual");
};

// ---------------------------------------------------------------- subscribe

const subscribeLive: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const client = await ctx.start({ syncMode: SyncMode.SUBSCRIBE });
  await client.syncUntilOk();
  await serverWrite(ctx, todos, ctx.doc("live"), { v: 1 });
  await eventually("the change arrives on the stream without sync_now", async () => ((await client.readOne(todos, ctx.doc("live"))) ? true : undefined), 10_000);
  check(ctx.proxy.subscribes.length >= 1, "the client subscribed");
};

const subscribeReconnect: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  ctx.proxy.inject("subscribe", { kind: "end-stream", afterMessages: 1 });
  ctx.proxy.inject("subscribe", { kind: "fail-stream", afterMessages: 1 });
  await serverWrite(ctx, todos, ctx.doc("first"), { v: 1 });
  const client = await ctx.start({ syncMode: SyncMode.SUBSCRIBE });
  await eventually("the first document arrives", async () => ((await client.readOne(todos, ctx.doc("first"))) ? true : undefined), 15_000);
  await eventually("the client resubscribes after the stream ends twice (§5.4)", async () => (ctx.proxy.subscribes.length >= 3 ? true : undefined), 20_000);
  await serverWrite(ctx, todos, ctx.doc("later"), { v: 1 });
  await eventually("a later change arrives on the new stream", async () => ((await client.readOne(todos, ctx.doc("later"))) ? true : undefined), 15_000);
  const resumed = ctx.proxy.subscribes.slice(1);
  check(resumed.some((s) => !isEmptyCheckpoint(s.checkpoint)), "the client resubscribes from its stored checkpoint, not from the beginning (§5.4)");
};

// ---------------------------------------------------------------- convergence

const convergenceWithFaults: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const a = await ctx.start({ name: "a", conflictStrategy: ConflictStrategy.UNSPECIFIED });
  const b = await ctx.start({ name: "b", conflictStrategy: ConflictStrategy.UNSPECIFIED });
  const faults = ["drop", "lose-response", "unavailable"] as const;
  for (let round = 0; round < 4; round++) {
    ctx.proxy.inject("push", { kind: faults[round % 3]! });
    ctx.proxy.inject("pull", { kind: faults[(round + 1) % 3]! });
    await a.write(todos, ctx.doc(`a${round}`), { by: "a", round });
    await b.write(todos, ctx.doc(`b${round}`), { by: "b", round });
    if (round % 2 === 1) await a.delete(todos, ctx.doc(`a${round - 1}`));
    await serverWrite(ctx, todos, ctx.doc(`r${round}`), { by: "runner", round });
    await a.syncUntilOk(12);
    await b.syncUntilOk(12);
  }
  // Settle: a few more rounds without faults.
  ctx.proxy.clearFaults();
  for (let i = 0; i < 2; i++) {
    await a.syncUntilOk();
    await b.syncUntilOk();
  }
  await checkConverged(ctx, todos, [a, b]);
  const view = await clientView(a, todos);
  checkEqual(view.size, 4 + 4 + 4 - 2, "documents after 4 rounds (2 deleted)");
  for (const [who, client] of [["a", a], ["b", b]] as const) {
    const status = await client.status();
    checkEqual(status.pendingChanges, 0, `${who}: nothing pending`);
  }
  // Nobody applied anything twice: each client change is on the server once.
  const server = await serverDocs(ctx, todos);
  for (const [id, c] of server) {
    if (c.clientId === ctx.runnerId) continue;
    const attempts = pushesOf(ctx, id);
    const applied = new Set(attempts.map((p) => p.change.clientSequence));
    check(applied.has(c.clientSequence), `${id}: the server's change is one the client pushed`);
  }
};

export const CLIENT_CHECKS: Record<string, ClientCheck> = {
  "push-insert": pushInsert,
  "push-update-delete": pushUpdateDelete,
  "push-sequences": pushSequences,
  "push-clock-observes": pushClockObserves,
  "pull-receives": pullReceives,
  "pull-pagination": pullPagination,
  "pull-no-echo": pullNoEcho,
  "resume-checkpoint": resumeCheckpoint,
  "resume-crash": resumeCrash,
  "resume-outbox": resumeOutbox,
  "retry-drop": retryDrop,
  "retry-lost-response": retryLostResponse,
  "retry-unavailable": retryUnavailable,
  "retry-delay": retryDelay,
  "retry-pull-faults": retryPullFaults,
  "conflict-local-wins": conflictLocalWins,
  "conflict-remote-wins": conflictRemoteWins,
  "conflict-client-merge": conflictClientMerge,
  "conflict-lww-remote-later": conflictLwwRemoteLater,
  "conflict-merge-three-way": conflictMergeThreeWay,
  "resolved-server-wins": resolvedServerWins,
  "resolved-client-wins": resolvedClientWins,
  "resolved-merge": resolvedMerge,
  "resolved-last-write-wins": resolvedLww,
  "offline-no-network": offlineNoNetwork,
  "offline-latest-once": offlineLatestOnce,
  "tombstone-resync": tombstoneResync,
  "subscribe-live": subscribeLive,
  "subscribe-reconnect": subscribeReconnect,
  "convergence-with-faults": convergenceWithFaults,
};
