// Named checks of server-mode cases: the cases whose logic does not fit data
// steps. Each is referenced by `check:` in conformance/cases/*.yaml.
import { create, toBinary } from "@bufbuild/protobuf";
import http from "node:http";
import { Code } from "@connectrpc/connect";
import {
  ChangeEventSchema,
  HybridLogicalClockSchema,
  PullRequestSchema,
  PushRequestSchema,
  type ChangeEvent,
  type Checkpoint,
} from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { ServerContext } from "./server-context.js";
import type { Strategy } from "./features.js";
import {
  accepted,
  checkIncreasing,
  checkOncePerDocument,
  checkpointWith,
  insertMany,
  pushOne,
  Stream,
  type ServerCheck,
} from "./server-check-helpers.js";
import { AUTH_CHECKS } from "./server-checks-auth.js";
import { PARTIAL_CHECKS } from "./server-checks-partial.js";
import {
  CheckFailure,
  Skip,
  check,
  checkEqual,
  checkError,
  eventually,
  expectFailure,
  insert,
  latestByDocument,
  nextTimestamp,
  pullAll,
  remove,
  sleep,
  update,
  wireError,
} from "./wire.js";

// ---------------------------------------------------------------- basic

const documentVerbatim: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  // Text the server must return byte for byte: key order, spacing, escapes,
  // a number beyond 2^53, non-ASCII and astral characters.
  const documents = [
    '{"title":"Café ☕ — 買い物 🛒","big":9007199254740993,"e":1e-7,"n":null}',
    '{ "z": 1,  "a": [ {"nested": {"deep": [true, false, null]}} ], "s": "quote \\" back \\\\ nl \\n u \\u00e9" }',
    '{"empty":{},"arr":[],"neg":-0.5,"exp":6.02E23}',
  ];
  const changes = documents.map((d, i) => insert(todos, ctx.doc(`v${i}`), d, ctx.seq()));
  const res = await ctx.client().push({ clientId: ctx.clientId(), changes });
  changes.forEach((_, i) => accepted(res, i));
  const pulled = ctx.mine((await pullAll(ctx.client(), [todos])).changes);
  checkEqual(pulled.length, documents.length, "pull: number of documents");
  for (const [i, d] of documents.entries()) {
    const c = pulled.find((p) => p.documentId === ctx.doc(`v${i}`));
    check(c, `pull: document v${i} missing`);
    checkEqual(c.document, d, `pull: document v${i} text`);
  }
};

const resultsInOrder: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const changes = Array.from({ length: 8 }, (_, i) => insert(todos, ctx.doc(`o${i}`), { i }, ctx.seq()));
  const res = await ctx.client().push({ clientId: ctx.clientId(), changes });
  checkEqual(res.results.length, changes.length, "push: number of results");
  let last = 0n;
  res.results.forEach((r, i) => {
    checkEqual(r.clientSequence, changes[i]!.clientSequence, `push: result ${i} client_sequence`);
    const a = accepted(res, i);
    check(a.revision !== "", `push: result ${i}: empty revision`);
    check(a.serverSequence > last, `push: result ${i}: server sequence ${a.serverSequence} not above ${last}`);
    last = a.serverSequence;
  });
  check(res.checkpoint, "push: response without checkpoint");
  check(res.checkpoint.serverSequence >= last, `push: checkpoint.server_sequence ${res.checkpoint.serverSequence} below the last accepted sequence ${last}`);
};

const latestStateOnce: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const id = ctx.doc("x");
  let rev = accepted(await pushOne(ctx, insert(todos, id, { v: 0 }, ctx.seq()))).revision;
  for (let v = 1; v <= 3; v++) rev = accepted(await pushOne(ctx, update(todos, id, { v }, rev, ctx.seq()))).revision;
  const { changes } = await pullAll(ctx.client(), [todos]);
  const mine = ctx.mine(changes);
  checkEqual(mine.length, 1, "pull: changes for a document written 4 times");
  checkEqual(mine[0]!.document, '{"v":3}', "pull: latest document");
  checkEqual(mine[0]!.revision, rev, "pull: latest revision");
};

const revisionsChange: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const id = ctx.doc("r");
  const first = accepted(await pushOne(ctx, insert(todos, id, { v: 0 }, ctx.seq())));
  const second = accepted(await pushOne(ctx, update(todos, id, { v: 0 }, first.revision, ctx.seq())));
  check(second.revision !== first.revision, `an update must get a new revision, got ${first.revision} twice`);
  check(second.serverSequence > first.serverSequence, "an update must get a higher server sequence");
  const pulled = ctx.mine((await pullAll(ctx.client(), [todos])).changes)[0];
  check(pulled, "pull: the document is missing");
  checkEqual(pulled.revision, second.revision, "pull: revision");
  checkEqual(pulled.serverSequence, second.serverSequence, "pull: server sequence");
  checkEqual(pulled.clientId, ctx.clientId(), "pull: client_id copied from the push");
  checkEqual(pulled.clientSequence, 2n, "pull: client_sequence copied from the push");
};

const collectionFilter: ServerCheck = async (ctx) => {
  const a = ctx.collection("alpha");
  const b = ctx.collection("beta");
  if (a === b) throw new Skip("the server declares a single fixed collection");
  await ctx.client().push({ clientId: ctx.clientId(), changes: [insert(a, ctx.doc("a1"), { c: "a" }, ctx.seq()), insert(b, ctx.doc("b1"), { c: "b" }, ctx.seq())] });
  const onlyA = await pullAll(ctx.client(), [a]);
  check(onlyA.changes.every((c) => c.collection === a), `pull of ${a} returned changes of other collections`);
  checkEqual(ctx.mine(onlyA.changes).map((c) => c.documentId), [ctx.doc("a1")], "pull of one collection");
  // The positions of collections not pulled are carried over unchanged (§4.5).
  const both = await pullAll(ctx.client(), [a, b]);
  const cp = both.checkpoint;
  check(cp, "pull: no checkpoint");
  await pushOne(ctx, insert(b, ctx.doc("b2"), { c: "b" }, ctx.seq()));
  const again = await ctx.client().pull({ collections: [a], checkpoint: cp });
  checkEqual(again.checkpoint?.collections[b], cp.collections[b], `pull of ${a}: position of ${b} must be carried over`);
  const rest = await pullAll(ctx.client(), [b], again.checkpoint);
  checkEqual(ctx.mine(rest.changes).map((c) => c.documentId), [ctx.doc("b2")], `pull of ${b} from the carried position`);
};

// ---------------------------------------------------------------- pagination

const paginationLimit: ServerCheck = async (ctx, params) => {
  const n = Number(params.documents ?? 25);
  const limit = Number(params.limit ?? 10);
  const todos = ctx.collection("paged");
  const start = await ctx.head([todos]);
  const written = await insertMany(ctx, todos, n);
  let checkpoint = start;
  const seen: ChangeEvent[] = [];
  for (let page = 0; ; page++) {
    check(page < n + 5, "pagination does not terminate");
    const res = await ctx.client().pull({ collections: [todos], checkpoint, limit });
    check(res.changes.length <= limit, `page ${page}: ${res.changes.length} changes, above limit ${limit}`);
    checkIncreasing(res.changes, `page ${page}`);
    check(res.checkpoint, `page ${page}: no checkpoint`);
    const position = res.checkpoint.collections[todos] ?? 0n;
    if (res.hasMore) {
      check(res.changes.length > 0, `page ${page}: has_more with an empty page`);
      checkEqual(position, res.changes.at(-1)!.serverSequence, `page ${page}: with has_more the position is the last returned sequence (§4.5)`);
    } else if (res.changes.length) {
      check(position >= res.changes.at(-1)!.serverSequence, `page ${page}: the position is below the last returned change`);
    }
    seen.push(...res.changes);
    checkpoint = res.checkpoint;
    if (!res.hasMore) break;
  }
  const mine = ctx.mine(seen);
  checkIncreasing(seen, "all pages");
  checkEqual(mine.length, n, "documents over all pages");
  checkEqual(new Set(mine.map((c) => c.documentId)).size, n, "distinct documents over all pages");
  checkEqual(mine.map((c) => c.serverSequence), written.map((w) => w.serverSequence), "pages return the accepted sequences in order");
};

const paginationServerDefault: ServerCheck = async (ctx, params) => {
  const n = Number(params.documents ?? 1200);
  const todos = ctx.collection("big");
  await insertMany(ctx, todos, n);
  const { pages, changes } = await pullAll(ctx.client(), [todos], undefined, 0);
  for (const [i, p] of pages.entries()) {
    check(p.changes.length <= 1000, `page ${i}: ${p.changes.length} changes with limit 0`);
    checkIncreasing(p.changes, `page ${i}`);
  }
  checkEqual(new Set(ctx.mine(changes).map((c) => c.documentId)).size, n, "documents over all pages with limit 0");
};

const emptyPull: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  await pushOne(ctx, insert(todos, ctx.doc("e"), { e: 1 }, ctx.seq()));
  const head = await ctx.head([todos]);
  const res = await ctx.client().pull({ collections: [todos], checkpoint: head });
  checkEqual(res.changes.length, 0, "pull from the head: changes");
  checkEqual(res.hasMore, false, "pull from the head: has_more");
  // The position moves to the high-water mark h read by this pull (§4.5), which
  // other clients' commits (to any collection) may have raised since the head
  // was read: it never goes back, and it never passes the checkpoint's own
  // high-water mark.
  const before = head?.collections[todos] ?? 0n;
  const position = res.checkpoint?.collections[todos] ?? 0n;
  check(position >= before, `pull from the head: position went back from ${before} to ${position}`);
  const hwm = res.checkpoint?.serverSequence ?? 0n;
  if (hwm > 0n) check(position <= hwm, `pull from the head: position ${position} above the checkpoint's server_sequence ${hwm}`);
};

// ---------------------------------------------------------------- resume

const resumeOnlyNew: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  await insertMany(ctx, todos, 3, "old");
  const first = await pullAll(ctx.client(), [todos]);
  checkEqual(ctx.mine(first.changes).length, 3, "first pull");
  await insertMany(ctx, todos, 2, "new");
  const second = await pullAll(ctx.client(), [todos], first.checkpoint);
  checkEqual(ctx.mine(second.changes).map((c) => c.documentId), [ctx.doc("new0"), ctx.doc("new1")], "pull from the checkpoint returns only the new changes");
  const third = await pullAll(ctx.client(), [todos], second.checkpoint);
  checkEqual(ctx.mine(third.changes).length, 0, "pull again from the newest checkpoint");
};

const resumeChangedAgain: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const [a] = await insertMany(ctx, todos, 2, "d");
  const first = await pullAll(ctx.client(), [todos]);
  const u = accepted(await pushOne(ctx, update(todos, a!.id, { again: true }, a!.revision, ctx.seq())));
  const second = await pullAll(ctx.client(), [todos], first.checkpoint);
  const mine = ctx.mine(second.changes);
  checkEqual(mine.map((c) => c.documentId), [a!.id], "a document changed after the checkpoint comes again");
  checkEqual(mine[0]!.revision, u.revision, "with its new revision");
  check(mine[0]!.serverSequence > a!.serverSequence, "at a higher sequence");
};

const resumeAbsentCollection: ServerCheck = async (ctx) => {
  const a = ctx.collection("alpha");
  const b = ctx.collection("beta");
  if (a === b) throw new Skip("the server declares a single fixed collection");
  await insertMany(ctx, a, 2, "a");
  await insertMany(ctx, b, 2, "b");
  const onlyA = await pullAll(ctx.client(), [a]);
  check(onlyA.checkpoint, "no checkpoint");
  check(!(b in onlyA.checkpoint.collections) || onlyA.checkpoint.collections[b] === 0n || ctx.features.openCollections === false,
    `a pull of ${a} alone must not set a position for ${b}`);
  const both = await pullAll(ctx.client(), [a, b], onlyA.checkpoint);
  checkEqual(ctx.mine(both.changes).map((c) => c.documentId).sort(), [ctx.doc("b0"), ctx.doc("b1")], `${b} starts from the beginning`);
};

const epochMismatch: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  await pushOne(ctx, insert(todos, ctx.doc("e"), {}, ctx.seq()));
  const { checkpoint } = await pullAll(ctx.client(), [todos]);
  const foreign = checkpointWith(checkpoint, { epoch: `${checkpoint?.epoch ?? ""}-another-data-set` });
  const e = await expectFailure("pull with a checkpoint of another epoch", () => ctx.client().pull({ collections: [todos], checkpoint: foreign }));
  checkError(e, { code: Code.FailedPrecondition, reason: "ERROR_REASON_RESYNC_REQUIRED" }, "pull with another epoch");
  check((e.metadata.collections ?? "").split(",").includes(todos), `ErrorInfo metadata collections must name ${todos}, got "${e.metadata.collections ?? ""}"`);
  const s = await expectFailure("subscribe with a checkpoint of another epoch", async () => {
    for await (const m of ctx.client().subscribe({ collections: [todos], checkpoint: foreign })) { void m; return; }
  });
  checkError(s, { code: Code.FailedPrecondition, reason: "ERROR_REASON_RESYNC_REQUIRED" }, "subscribe with another epoch");
};

// ---------------------------------------------------------------- subscribe

const subscribeFirstMessage: ServerCheck = async (ctx) => {
  const empty = ctx.collection("nothing");
  const started = Date.now();
  const stream = new Stream(ctx.client(), [empty], { signal: ctx.signal, heartbeatIntervalMs: 30_000 });
  try {
    await stream.waitFor("a first message at once (§5.2)", () => stream.messages.length > 0, 3000);
    const first = stream.messages[0]!.message.event;
    check(first.case === "changes", `the first message must be a ChangeBatch, got ${first.case}`);
    check(first.value.caughtUp, "the first message must have caught_up = true when there is nothing to catch up on");
    check(first.value.checkpoint, "the first message must carry a checkpoint");
    check(Date.now() - started < 3000, "the first message was late");
  } finally {
    await stream.close();
  }
};

const subscribeCatchUpThenLive: ServerCheck = async (ctx) => {
  const todos = ctx.collection("live");
  const old = await insertMany(ctx, todos, 5, "old");
  const stream = new Stream(ctx.client(), [todos], { signal: ctx.signal, heartbeatIntervalMs: 1000 });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp());
    const catchUp = stream.changes();
    checkEqual(ctx.mine(catchUp).map((c) => c.documentId), old.map((o) => o.id), "catch-up delivers the existing documents in order");
    const live = await insertMany(ctx, todos, 3, "live");
    await stream.waitFor("live changes", () => ctx.mine(stream.changes()).length >= 8);
    await sleep(100);
    const all = stream.changes();
    checkIncreasing(all, "stream");
    checkEqual(ctx.mine(all).map((c) => c.documentId), [...old, ...live].map((o) => o.id), "every change once, in order (§5.5)");
    // Each batch's checkpoint covers its changes.
    for (const m of stream.messages) {
      if (m.message.event.case !== "changes") continue;
      const b = m.message.event.value;
      check(b.checkpoint, "a ChangeBatch without checkpoint");
      for (const c of b.changes) check((b.checkpoint.collections[todos] ?? 0n) >= c.serverSequence, "a batch checkpoint below its own changes");
    }
    // Flags: caught_up appears once the catch-up is complete; live batches are after it.
    const firstCaughtUp = stream.messages.findIndex((m) => m.message.event.case === "changes" && m.message.event.value.caughtUp);
    const beforeLive = stream.messages.slice(0, firstCaughtUp + 1).flatMap((m) => (m.message.event.case === "changes" ? m.message.event.value.changes : []));
    check(ctx.mine(beforeLive).length === old.length, "caught_up must be set on the batch that completes the catch-up");
  } finally {
    await stream.close();
  }
};

const subscribeResume: ServerCheck = async (ctx) => {
  const todos = ctx.collection("resume");
  await insertMany(ctx, todos, 2, "a");
  const first = new Stream(ctx.client(), [todos], { signal: ctx.signal });
  await first.waitFor("caught_up", () => first.caughtUp());
  const checkpoint = first.lastCheckpoint();
  await first.close();
  await insertMany(ctx, todos, 2, "b");
  const second = new Stream(ctx.client(), [todos], { signal: ctx.signal, checkpoint });
  try {
    await second.waitFor("caught_up", () => second.caughtUp());
    checkEqual(ctx.mine(second.changes()).map((c) => c.documentId), [ctx.doc("b0"), ctx.doc("b1")], "resuming delivers only what came after the checkpoint");
  } finally {
    await second.close();
  }
};

const subscribeFilter: ServerCheck = async (ctx) => {
  const a = ctx.collection("alpha");
  const b = ctx.collection("beta");
  if (a === b) throw new Skip("the server declares a single fixed collection");
  const stream = new Stream(ctx.client(), [a], { signal: ctx.signal });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp());
    await insertMany(ctx, b, 2, "b");
    await insertMany(ctx, a, 1, "a");
    await stream.waitFor("the change to the subscribed collection", () => ctx.mine(stream.changes()).some((c) => c.collection === a));
    await sleep(200);
    check(stream.changes().every((c) => c.collection === a), `changes of ${b} were streamed to a subscriber of ${a}`);
  } finally {
    await stream.close();
  }
};

// ---------------------------------------------------------------- heartbeats

async function heartbeats(ctx: ServerContext, requestMs: number, expectedMs: number): Promise<void> {
  const todos = ctx.collection("quiet");
  const stream = new Stream(ctx.client(), [todos], { signal: ctx.signal, heartbeatIntervalMs: requestMs });
  try {
    const watchMs = expectedMs * 4;
    await stream.waitFor("caught_up", () => stream.caughtUp());
    const from = Date.now();
    await sleep(watchMs);
    check(!stream.error, `the stream failed: ${stream.error ? wireError(stream.error).message : ""}`);
    const times = [from, ...stream.messages.filter((m) => m.at >= from).map((m) => m.at), Date.now()];
    const tolerance = expectedMs * 0.5 + 150;
    for (let i = 1; i < times.length; i++) {
      const gap = times[i]! - times[i - 1]!;
      check(gap <= expectedMs + tolerance, `a silence of ${gap} ms with a heartbeat interval of ${expectedMs} ms (§5.3)`);
    }
    const beats = stream.messages.filter((m) => m.message.event.case === "heartbeat");
    check(beats.length >= 2, `expected heartbeats over ${watchMs} ms of silence, got ${beats.length}`);
    for (const b of beats) {
      if (b.message.event.case !== "heartbeat") continue;
      check(b.message.event.value.checkpoint, "a heartbeat without checkpoint");
      check(b.message.event.value.serverTimeMs > 0n, "a heartbeat without server_time_ms");
    }
  } finally {
    await stream.close();
  }
}

const heartbeatRequested: ServerCheck = async (ctx, params) => heartbeats(ctx, Number(params.intervalMs ?? 500), Number(params.intervalMs ?? 500));

const heartbeatDefault: ServerCheck = async (ctx) => {
  ctx.require("heartbeat-default");
  await heartbeats(ctx, 0, ctx.features.heartbeatDefaultMs!);
};

const heartbeatCheckpointResumable: ServerCheck = async (ctx) => {
  const todos = ctx.collection("beat");
  await insertMany(ctx, todos, 2, "a");
  const stream = new Stream(ctx.client(), [todos], { signal: ctx.signal, heartbeatIntervalMs: 300 });
  let checkpoint: Checkpoint | undefined;
  try {
    await stream.waitFor("a heartbeat", () => stream.messages.some((m) => m.message.event.case === "heartbeat"), 5000);
    const beat = stream.messages.find((m) => m.message.event.case === "heartbeat")!.message.event;
    checkpoint = beat.case === "heartbeat" ? beat.value.checkpoint : undefined;
  } finally {
    await stream.close();
  }
  check(checkpoint, "a heartbeat without checkpoint");
  await insertMany(ctx, todos, 1, "b");
  const after = await pullAll(ctx.client(), [todos], checkpoint);
  checkEqual(ctx.mine(after.changes).map((c) => c.documentId), [ctx.doc("b0")], "a pull from a heartbeat's checkpoint returns exactly the later changes");
};

// ---------------------------------------------------------------- concurrency

const concurrentWriters: ServerCheck = async (ctx, params) => {
  const writers = Number(params.writers ?? 4);
  const rounds = Number(params.rounds ?? 25);
  const shared = Number(params.sharedDocuments ?? 5);
  const todos = ctx.collection("busy");
  const start = await ctx.head([todos]);
  // A paging reader with a small limit and a subscriber run while writers push.
  const stream = new Stream(ctx.client(), [todos], { signal: ctx.signal, checkpoint: start });
  const readerState = new Map<string, ChangeEvent>();
  let writing = true;
  let readerCheckpoint = start;
  const reader = (async () => {
    while (writing) {
      const page = await ctx.client().pull({ collections: [todos], checkpoint: readerCheckpoint, limit: 7 });
      checkIncreasing(page.changes, "concurrent pull page");
      checkOncePerDocument(page.changes, "concurrent pull page");
      for (const c of page.changes) readerState.set(c.documentId, c);
      readerCheckpoint = page.checkpoint;
      if (!page.hasMore) await sleep(5);
    }
  })();
  const accepted: ChangeEvent[] = [];
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const clientId = ctx.clientId(`w${w}`);
      let sequence = 0n;
      const revisions = new Map<string, string>();
      for (let r = 0; r < rounds; r++) {
        // An own document, and a shared one (which may conflict: then re-read and retry).
        const ownId = ctx.doc(`w${w}-r${r}`);
        const sharedId = ctx.doc(`shared${(r + w) % shared}`);
        const changes = [
          insert(todos, ownId, { w, r }, ++sequence),
          revisions.has(sharedId)
            ? update(todos, sharedId, { w, r }, revisions.get(sharedId)!, ++sequence)
            : insert(todos, sharedId, { w, r }, ++sequence),
        ];
        const res = await ctx.client().push({ clientId, changes });
        res.results.forEach((result, i) => {
          const change = changes[i]!;
          if (result.outcome.case === "accepted") {
            revisions.set(change.documentId, result.outcome.value.revision);
            accepted.push(create(ChangeEventSchema, { ...change, revision: result.outcome.value.revision, serverSequence: result.outcome.value.serverSequence }));
          } else if (result.outcome.case === "conflict" && result.outcome.value.current) {
            revisions.set(change.documentId, result.outcome.value.current.revision);
          } else if (result.outcome.case !== "conflict") {
            throw new CheckFailure(`writer ${w}: unexpected ${result.outcome.case} for ${change.documentId}`);
          }
        });
      }
    }),
  );
  writing = false;
  await reader;
  // Catch the reader and the stream up to the end.
  const rest = await pullAll(ctx.client(), [todos], readerCheckpoint, 7);
  for (const c of rest.changes) readerState.set(c.documentId, c);
  const truth = latestByDocument(ctx.mine((await pullAll(ctx.client(), [todos], start)).changes));
  try {
    // Every accepted sequence is unique.
    const sequences = accepted.map((a) => a.serverSequence);
    checkEqual(new Set(sequences).size, sequences.length, "distinct server sequences for accepted changes (§4.1)");
    // The final state is the last accepted write of each document.
    const lastAccepted = new Map<string, ChangeEvent>();
    for (const a of [...accepted].sort((x, y) => (x.serverSequence < y.serverSequence ? -1 : 1))) lastAccepted.set(a.documentId, a);
    checkEqual(truth.size, lastAccepted.size, "documents in a full pull");
    for (const [id, a] of lastAccepted) {
      const t = truth.get(`${todos}/${id}`);
      check(t, `${id} missing from a full pull`);
      checkEqual(t.revision, a.revision, `${id}: revision in a full pull is the last accepted`);
    }
    // The paging reader missed nothing.
    for (const [id, a] of lastAccepted) {
      const seen = readerState.get(id);
      check(seen, `the concurrent paging reader missed ${id} entirely (§4.6)`);
      checkEqual(seen.revision, a.revision, `the concurrent paging reader's latest ${id} (§4.6)`);
    }
    // The stream missed nothing and doubled nothing.
    await stream.waitFor("the stream delivers every change", () => {
      const latest = latestByDocument(ctx.mine(stream.changes()));
      return [...lastAccepted].every(([id, a]) => latest.get(`${todos}/${id}`)?.revision === a.revision);
    });
    const streamed = stream.changes();
    checkIncreasing(streamed, "stream");
    const keys = streamed.map((c) => `${c.documentId}@${c.revision}`);
    checkEqual(new Set(keys).size, keys.length, "no change delivered twice on one stream (§5.5)");
  } finally {
    await stream.close();
  }
};

// ---------------------------------------------------------------- conflicts

interface ConflictSetup {
  collection: string;
  id: string;
  base: { revision: string };
  server: { revision: string; serverSequence: bigint; document: string };
}

/** A document at base {a:1,b:1,c:1}, then another client's update to server {a:2,b:1,c:1}. */
async function setupConflict(ctx: ServerContext, strategy: Strategy): Promise<ConflictSetup> {
  const collection = ctx.strategyCollection(strategy);
  const id = ctx.doc(`conflict-${strategy}`);
  const base = accepted(await pushOne(ctx, insert(collection, id, { a: 1, b: 1, c: 1 }, ctx.seq()), ctx.clientId("other")));
  const document = '{"a":2,"b":1,"c":1}';
  const server = accepted(await pushOne(ctx, update(collection, id, document, base.revision, ctx.seq()), ctx.clientId("other")));
  return { collection, id, base, server: { ...server, document } };
}

async function stateOf(ctx: ServerContext, collection: string, id: string): Promise<ChangeEvent | undefined> {
  return ctx.mine((await pullAll(ctx.client(), [collection])).changes).find((c) => c.documentId === id);
}

const conflictReport: ServerCheck = async (ctx) => {
  const s = await setupConflict(ctx, "report");
  const res = await pushOne(ctx, update(s.collection, s.id, { a: 1, b: 3, c: 1 }, s.base.revision, ctx.seq()));
  const r = res.results[0]!;
  check(r.outcome.case === "conflict", `a stale base revision must give conflict with strategy report, got ${r.outcome.case}`);
  const current = r.outcome.value.current;
  check(current, "conflict without current");
  checkEqual(current.revision, s.server.revision, "conflict: current.revision");
  checkEqual(current.document, s.server.document, "conflict: current.document");
  const now = await stateOf(ctx, s.collection, s.id);
  checkEqual(now?.revision, s.server.revision, "nothing is written on conflict");
  // §7.1: the client's resolution, pushed on top of current, is accepted.
  accepted(await pushOne(ctx, update(s.collection, s.id, { a: 2, b: 3, c: 1 }, current.revision, ctx.seq())));
};

const conflictInsertExisting: ServerCheck = async (ctx) => {
  const collection = ctx.strategyCollection("report");
  const id = ctx.doc("dup");
  const first = accepted(await pushOne(ctx, insert(collection, id, { by: "other" }, ctx.seq()), ctx.clientId("other")));
  const res = await pushOne(ctx, insert(collection, id, { by: "me" }, ctx.seq()));
  const r = res.results[0]!;
  check(r.outcome.case === "conflict", `an insert of an existing document must conflict (its empty base differs), got ${r.outcome.case}`);
  checkEqual(r.outcome.value.current?.revision, first.revision, "conflict: current.revision");
};

const conflictUnknownBase: ServerCheck = async (ctx) => {
  const collection = ctx.strategyCollection("report");
  const res = await pushOne(ctx, update(collection, ctx.doc("ghost"), { x: 1 }, "1-doesnotexist", ctx.seq()));
  const r = res.results[0]!;
  check(r.outcome.case === "conflict", `an update of a document that does not exist must conflict (§6.2, §6.3), got ${r.outcome.case}`);
};

const conflictLww: ServerCheck = async (ctx, params) => {
  const clientLater = params.pushedWins === true;
  const s = await setupConflict(ctx, "last-write-wins");
  const ts = clientLater
    ? { wallTimeMs: BigInt(Date.now() + 60_000), logical: 0 }
    : { wallTimeMs: 1_000n, logical: 0 };
  const change = create(ChangeEventSchema, { ...update(s.collection, s.id, { a: 1, b: 3, c: 1 }, s.base.revision, ctx.seq()), timestamp: create(HybridLogicalClockSchema, ts) });
  const r = (await pushOne(ctx, change)).results[0]!;
  check(r.outcome.case === "resolved", `last-write-wins must answer resolved, got ${r.outcome.case}`);
  checkEqual(r.outcome.value.strategy, "last-write-wins", "resolved.strategy");
  const current = r.outcome.value.current;
  check(current, "resolved without current");
  const now = await stateOf(ctx, s.collection, s.id);
  if (clientLater) {
    checkEqual(current.document, '{"a":1,"b":3,"c":1}', "the later pushed change wins");
    check(current.revision !== s.server.revision, "the winning push is committed with a new revision");
    checkEqual(now?.revision, current.revision, "the committed resolution is what a pull returns (§7.3)");
  } else {
    checkEqual(current.revision, s.server.revision, "the later server change wins: current is the server's");
    checkEqual(now?.revision, s.server.revision, "nothing is written when the server's change is later");
  }
};

const conflictServerWins: ServerCheck = async (ctx) => {
  const s = await setupConflict(ctx, "server-wins");
  const r = (await pushOne(ctx, update(s.collection, s.id, { a: 1, b: 3, c: 1 }, s.base.revision, ctx.seq()))).results[0]!;
  check(r.outcome.case === "resolved", `server-wins must answer resolved, got ${r.outcome.case}`);
  checkEqual(r.outcome.value.strategy, "server-wins", "resolved.strategy");
  checkEqual(r.outcome.value.current?.revision, s.server.revision, "resolved.current is the server's document");
  checkEqual(r.outcome.value.current?.document, s.server.document, "resolved.current.document");
  checkEqual((await stateOf(ctx, s.collection, s.id))?.revision, s.server.revision, "nothing is written");
};

const conflictClientWins: ServerCheck = async (ctx) => {
  const s = await setupConflict(ctx, "client-wins");
  const r = (await pushOne(ctx, update(s.collection, s.id, { a: 1, b: 3, c: 1 }, s.base.revision, ctx.seq()))).results[0]!;
  check(r.outcome.case === "resolved", `client-wins must answer resolved, got ${r.outcome.case}`);
  checkEqual(r.outcome.value.strategy, "client-wins", "resolved.strategy");
  const current = r.outcome.value.current;
  check(current, "resolved without current");
  checkEqual(JSON.parse(current.document) as unknown, { a: 1, b: 3, c: 1 }, "resolved.current is the pushed document");
  check(current.revision !== s.server.revision && current.serverSequence > s.server.serverSequence, "the resolution is a new change (§7.3)");
  checkEqual((await stateOf(ctx, s.collection, s.id))?.revision, current.revision, "a pull returns the resolution (§7.3)");
};

const conflictMerge: ServerCheck = async (ctx) => {
  const collection = ctx.strategyCollection("merge");
  const id = ctx.doc("merge");
  const base = accepted(await pushOne(ctx, insert(collection, id, { a: 1, b: 1 }, ctx.seq()), ctx.clientId("other")));
  // Another client changes a and adds s; this client, later, changes b and adds c.
  const server = accepted(await pushOne(ctx, update(collection, id, { a: 2, b: 1, s: 1 }, base.revision, ctx.seq()), ctx.clientId("other")));
  const r = (await pushOne(ctx, update(collection, id, { a: 1, b: 3, c: 9 }, base.revision, ctx.seq()))).results[0]!;
  check(r.outcome.case === "resolved", `merge must answer resolved, got ${r.outcome.case}`);
  checkEqual(r.outcome.value.strategy, "merge", "resolved.strategy");
  const current = r.outcome.value.current;
  check(current, "resolved without current");
  const merged = JSON.parse(current.document) as Record<string, unknown>;
  // Whether or not the server knows the base document, the client's later
  // change to b wins, and keys only one side has survive. Key a is 2 when the
  // server knows the base (the client did not change it), else the later (1).
  checkEqual(merged.b, 3, "merge: the key the client changed (b)");
  checkEqual(merged.s, 1, "merge: the key only the server has (s)");
  checkEqual(merged.c, 9, "merge: the key only the client has (c)");
  check(merged.a === 1 || merged.a === 2, `merge: key a must be 2 (base known) or 1 (later timestamp), got ${JSON.stringify(merged.a)}`);
  check(current.revision !== server.revision, "the merge is a new change (§7.3)");
  checkEqual((await stateOf(ctx, collection, id))?.revision, current.revision, "a pull returns the merged document (§7.3)");
};

const noConflictAccepted: ServerCheck = async (ctx, params) => {
  const strategy = String(params.strategy) as Strategy;
  const collection = ctx.strategyCollection(strategy);
  const id = ctx.doc(`clean-${strategy}`);
  const a = accepted(await pushOne(ctx, insert(collection, id, { v: 1 }, ctx.seq())));
  const b = accepted(await pushOne(ctx, update(collection, id, { v: 2 }, a.revision, ctx.seq())));
  accepted(await pushOne(ctx, remove(collection, id, b.revision, ctx.seq())));
};

// ---------------------------------------------------------------- idempotency

const idempotentRetry: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const change = insert(todos, ctx.doc("once"), { n: 1 }, ctx.seq());
  const request = create(PushRequestSchema, { clientId: ctx.clientId(), changes: [change] });
  const first = accepted(await ctx.client().push(request));
  const second = accepted(await ctx.client().push(request));
  checkEqual(second, first, "a retried push returns the recorded result (§12.2)");
  const pulled = ctx.mine((await pullAll(ctx.client(), [todos])).changes);
  checkEqual(pulled.length, 1, "one document");
  checkEqual(pulled[0]!.serverSequence, first.serverSequence, "the retry wrote nothing new");
  // An update retried after another change in between returns the original result.
  const u = create(PushRequestSchema, { clientId: ctx.clientId(), changes: [update(todos, ctx.doc("once"), { n: 2 }, first.revision, ctx.seq())] });
  const u1 = accepted(await ctx.client().push(u));
  await pushOne(ctx, insert(todos, ctx.doc("between"), {}, ctx.seq()));
  const u2 = accepted(await ctx.client().push(u));
  checkEqual(u2, u1, "a retried update returns its recorded result, not a conflict");
};

const idempotentConcurrentRetry: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const request = create(PushRequestSchema, { clientId: ctx.clientId(), changes: [insert(todos, ctx.doc("race"), { n: 1 }, ctx.seq())] });
  const results = await Promise.all(Array.from({ length: 5 }, () => ctx.client().push(request)));
  const outcomes = results.map((r) => accepted(r));
  for (const o of outcomes) checkEqual(o, outcomes[0], "concurrent copies of one push get the same result");
  const pulled = ctx.mine((await pullAll(ctx.client(), [todos])).changes);
  checkEqual(pulled.map((c) => c.serverSequence), [outcomes[0]!.serverSequence], "applied once");
};

const idempotentBatchPartial: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const a = insert(todos, ctx.doc("a"), { n: 1 }, ctx.seq());
  const first = accepted(await ctx.client().push({ clientId: ctx.clientId(), changes: [a] }));
  const b = insert(todos, ctx.doc("b"), { n: 1 }, ctx.seq());
  const res = await ctx.client().push({ clientId: ctx.clientId(), changes: [a, b] });
  checkEqual(accepted(res, 0), first, "the recorded change in a larger retry returns its recorded result");
  accepted(res, 1);
  checkEqual(ctx.mine((await pullAll(ctx.client(), [todos])).changes).length, 2, "two documents");
};

const idempotencyMismatch: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const sequence = ctx.seq();
  accepted(await pushOne(ctx, insert(todos, ctx.doc("m"), { n: 1 }, sequence)));
  const res = await pushOne(ctx, insert(todos, ctx.doc("m"), { n: 2 }, sequence));
  const r = res.results[0]!;
  check(r.outcome.case === "rejected", `the same key with another document must be rejected, got ${r.outcome.case}`);
  checkEqual(r.outcome.value.reason, "ERROR_REASON_IDEMPOTENCY_MISMATCH", "rejected.reason");
  checkEqual(r.outcome.value.code, Code.InvalidArgument, "rejected.code");
  const other = await pushOne(ctx, insert(todos, ctx.doc("m-other"), { n: 1 }, sequence));
  const o = other.results[0]!;
  check(o.outcome.case === "rejected" && o.outcome.value.reason === "ERROR_REASON_IDEMPOTENCY_MISMATCH", `the same key for another document must be rejected with ERROR_REASON_IDEMPOTENCY_MISMATCH, got ${o.outcome.case}`);
};

const idempotencyConflictNotRecorded: ServerCheck = async (ctx) => {
  const s = await setupConflict(ctx, "report");
  const sequence = ctx.seq();
  const r1 = (await pushOne(ctx, update(s.collection, s.id, { a: 1, b: 3, c: 1 }, s.base.revision, sequence))).results[0]!;
  check(r1.outcome.case === "conflict", `expected conflict, got ${r1.outcome.case}`);
  // A conflict wrote nothing, so it is not recorded (§12.3): the same key,
  // now on the current revision, is evaluated afresh and accepted.
  const res = await pushOne(ctx, update(s.collection, s.id, { a: 2, b: 3, c: 1 }, s.server.revision, sequence));
  accepted(res);
};

// ---------------------------------------------------------------- tombstones

async function waitForPurge(ctx: ServerContext): Promise<void> {
  const t = ctx.features.tombstonePurge!;
  await sleep(t.retentionMs + 2 * t.purgeIntervalMs + 200);
}

const purgeResyncRequired: ServerCheck = async (ctx) => {
  ctx.require("tombstone-purge");
  const todos = ctx.collection("purged");
  const [keep, gone] = await insertMany(ctx, todos, 2, "d");
  const before = await pullAll(ctx.client(), [todos]);
  accepted(await pushOne(ctx, remove(todos, gone!.id, gone!.revision, ctx.seq())));
  await waitForPurge(ctx);
  const e = await eventually("the tombstone is purged and an old checkpoint refused", async () => {
    try {
      await ctx.client().pull({ collections: [todos], checkpoint: before.checkpoint });
      return undefined;
    } catch (error) {
      return wireError(error);
    }
  }, ctx.features.tombstonePurge!.retentionMs * 4 + 5000, 100);
  checkError(e, { code: Code.FailedPrecondition, reason: "ERROR_REASON_RESYNC_REQUIRED" }, "pull from before a purged tombstone (§8.3)");
  check((e.metadata.collections ?? "").split(",").includes(todos), `ErrorInfo metadata collections must name ${todos}, got "${e.metadata.collections ?? ""}"`);
  const s = await expectFailure("subscribe from before a purged tombstone", async () => {
    for await (const m of ctx.client().subscribe({ collections: [todos], checkpoint: before.checkpoint })) { void m; return; }
  });
  checkError(s, { code: Code.FailedPrecondition, reason: "ERROR_REASON_RESYNC_REQUIRED" }, "subscribe from before a purged tombstone");
  // A full pull works and no longer has the purged document.
  const fresh = await pullAll(ctx.client(), [todos]);
  checkEqual(ctx.mine(fresh.changes).map((c) => c.documentId), [keep!.id], "a full pull after the purge");
  // And a checkpoint after the purge resumes.
  await ctx.client().pull({ collections: [todos], checkpoint: fresh.checkpoint });
  // A purged document has the empty revision again (§6.2): an insert is accepted.
  accepted(await pushOne(ctx, insert(todos, gone!.id, { back: true }, ctx.seq())));
};

// ---------------------------------------------------------------- validation

const invalidDocuments: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const bad = ["not json", "[1,2]", '"text"', "42", "null", '{"a":1', '{"_id":"x","a":1}', '{"_rev":"1-a"}', '{"_deleted":true}'];
  const changes = [
    ...bad.map((d, i) => insert(todos, ctx.doc(`bad${i}`), d, ctx.seq())),
    insert(todos, ctx.doc("good"), { ok: true }, ctx.seq()),
  ];
  const res = await ctx.client().push({ clientId: ctx.clientId(), changes });
  checkEqual(res.results.length, changes.length, "one result per change");
  bad.forEach((d, i) => {
    const r = res.results[i]!;
    check(r.outcome.case === "rejected", `document ${JSON.stringify(d)} must be rejected (§3.2, §3.3), got ${r.outcome.case}`);
    checkEqual(r.outcome.value.code, Code.InvalidArgument, `document ${JSON.stringify(d)}: rejected.code`);
    checkEqual(r.outcome.value.reason, "ERROR_REASON_INVALID_DOCUMENT", `document ${JSON.stringify(d)}: rejected.reason`);
  });
  accepted(res, bad.length);
  checkEqual(ctx.mine((await pullAll(ctx.client(), [todos])).changes).map((c) => c.documentId), [ctx.doc("good")], "only the valid change is written (§11)");
};

async function rawPost(ctx: ServerContext, path: string, contentType: string, body: Uint8Array | string, headers: Record<string, string> = {}) {
  const auth: Record<string, string> = ctx.target.tokens.token ? { authorization: `Bearer ${ctx.target.tokens.token}` } : {};
  return fetch(`${ctx.target.url.replace(/\/$/, "")}/pocket.sync.v1.SyncService/${path}`, {
    method: "POST",
    headers: { "content-type": contentType, "connect-protocol-version": "1", ...auth, ...headers },
    body: typeof body === "string" ? body : new Blob([new Uint8Array(body)]),
    signal: ctx.signal,
  });
}

const malformedBodies: ServerCheck = async (ctx) => {
  const cases: [string, string, Uint8Array | string][] = [
    ["garbage protobuf", "application/proto", new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])],
    ["truncated protobuf", "application/proto", new Uint8Array([0x12, 0x40, 0x08])],
    ["garbage JSON", "application/json", "{not json"],
    ["JSON of the wrong shape", "application/json", '{"changes":"nope"}'],
  ];
  for (const [what, type, body] of cases) {
    const res = await rawPost(ctx, "Push", type, body);
    const json = (await res.json().catch(() => ({}))) as { code?: string };
    // The Connect protocol answers a body it cannot decode with an error; the
    // code is invalid_argument where the implementation maps decoding errors,
    // and some Connect libraries (connect-es) answer internal.
    check(res.status >= 400, `${what}: expected an error, got HTTP ${res.status}`);
    check(json.code === "invalid_argument" || json.code === "internal", `${what}: expected Connect error code invalid_argument, got ${json.code ?? `HTTP ${res.status}`}`);
  }
  const todos = ctx.collection("todos");
  checkEqual(ctx.mine((await pullAll(ctx.client(), [todos])).changes).length, 0, "nothing written by malformed requests");
  // And the server still answers.
  await pushOne(ctx, insert(todos, ctx.doc("after"), {}, ctx.seq()));
};

const unknownMethod: ServerCheck = async (ctx) => {
  const res = await rawPost(ctx, "Frobnicate", "application/json", "{}");
  check(res.status === 404 || res.status === 501, `an unknown method must fail with unimplemented (HTTP 404), got ${res.status}`);
};

const requestTooLarge: ServerCheck = async (ctx) => {
  ctx.require("max-request-bytes");
  const todos = ctx.collection("todos");
  const limit = ctx.features.maxRequestBytes!;
  const per = 1_000_000;
  const n = Math.min(500, Math.ceil((limit + 1_000_000) / per));
  const body = JSON.stringify({ pad: "x".repeat(per - 20) });
  const changes = Array.from({ length: n }, (_, i) => insert(todos, ctx.doc(`big${i}`), body, ctx.seq()));
  // Its own connection: a server may close it after refusing the body unread.
  const agent = new http.Agent({ keepAlive: false });
  const client = ctx.wire.client({ url: ctx.target.url, protocol: ctx.target.protocol, httpVersion: ctx.target.httpVersion, token: ctx.target.tokens.token, agent });
  const e = await expectFailure(`a push of ${n * per} bytes`, () => client.push({ clientId: ctx.clientId(), changes }));
  checkError(e, { code: Code.ResourceExhausted }, `a request above the server's limit of ${limit} bytes (§2.3)`);
  // 8 MiB SHOULD be accepted (§2.3); at least a request well below the limit is.
  const small = Array.from({ length: 2 }, (_, i) => insert(todos, ctx.doc(`ok${i}`), body, ctx.seq()));
  const res = await ctx.client().push({ clientId: ctx.clientId(), changes: small });
  small.forEach((_, i) => accepted(res, i));
};

// ---------------------------------------------------------------- protocols

const protocolRoundTrip: ServerCheck = async (ctx, params) => {
  const protocol = String(params.protocol) as "connect-json";
  const httpVersion = String(params.httpVersion) as "1.1" | "2";
  ctx.require(`protocol:${protocol}`);
  if (httpVersion === "2") ctx.require("http2");
  const client = ctx.client({ protocol, httpVersion });
  const todos = ctx.collection("proto");
  const doc = '{"t":"é ☕ 🛒","n":9007199254740993}';
  const res = await client.push({ clientId: ctx.clientId(), changes: [insert(todos, ctx.doc("p"), doc, ctx.seq())] });
  accepted(res);
  const pulled = await client.pull({ collections: [todos] });
  checkEqual(ctx.mine(pulled.changes).map((c) => c.document), [doc], "push then pull over this protocol");
  checkEqual(pulled.changes[0]?.serverSequence, accepted(res).serverSequence, "uint64 server sequence round-trips");
  // Server streaming works.
  const stream = new Stream(client, [todos], { signal: ctx.signal });
  try {
    await stream.waitFor("caught_up on a stream over this protocol", () => stream.caughtUp());
    checkEqual(ctx.mine(stream.changes()).length, 1, "stream catch-up");
  } finally {
    await stream.close();
  }
  // Error details survive this protocol.
  const e = await expectFailure("an invalid pull", () => client.pull({ collections: ["1 bad"] }));
  checkError(e, { code: Code.InvalidArgument, reason: "ERROR_REASON_INVALID_ARGUMENT" }, "an error's ErrorInfo over this protocol");
};

const connectGet: ServerCheck = async (ctx) => {
  ctx.require("connect-get");
  const client = ctx.client({ protocol: "connect-json", httpVersion: "1.1", useHttpGet: true });
  const todos = ctx.collection("todos");
  await pushOne(ctx, insert(todos, ctx.doc("g"), { g: 1 }, ctx.seq()));
  const res = await client.pull({ collections: [todos] });
  checkEqual(ctx.mine(res.changes).length, 1, "pull as an HTTP GET (§2.2)");
  // Make sure it really went as GET: a raw GET request works too.
  const message = toBinary(PullRequestSchema, create(PullRequestSchema, { collections: [todos] }));
  const params = new URLSearchParams({ connect: "v1", encoding: "proto", base64: "1", message: Buffer.from(message).toString("base64url") });
  const auth: Record<string, string> = ctx.target.tokens.token ? { authorization: `Bearer ${ctx.target.tokens.token}` } : {};
  const raw = await fetch(`${ctx.target.url.replace(/\/$/, "")}/pocket.sync.v1.SyncService/Pull?${params}`, { headers: auth, signal: ctx.signal });
  checkEqual(raw.status, 200, "a raw Connect GET of Pull");
};

const futureTimestamp: ServerCheck = async (ctx) => {
  ctx.require("future-timestamp-refusal");
  const todos = ctx.collection("todos");
  const change = create(ChangeEventSchema, { ...insert(todos, ctx.doc("f"), {}, ctx.seq()), timestamp: create(HybridLogicalClockSchema, { wallTimeMs: BigInt(Date.now() + 48 * 3600_000), logical: 0 }) });
  let refused = false;
  try {
    const res = await pushOne(ctx, change);
    const r = res.results[0]!;
    refused = r.outcome.case === "rejected" && r.outcome.value.code === Code.InvalidArgument;
  } catch (error) {
    refused = wireError(error).code === Code.InvalidArgument;
  }
  check(refused, "a timestamp 48 hours ahead must be refused with invalid_argument (§10.3)");
  void nextTimestamp;
};

export const SERVER_CHECKS: Record<string, ServerCheck> = {
  ...AUTH_CHECKS,
  ...PARTIAL_CHECKS,
  "document-verbatim": documentVerbatim,
  "results-in-order": resultsInOrder,
  "latest-state-once": latestStateOnce,
  "revisions-change": revisionsChange,
  "collection-filter": collectionFilter,
  "pagination-limit": paginationLimit,
  "pagination-server-default": paginationServerDefault,
  "empty-pull": emptyPull,
  "resume-only-new": resumeOnlyNew,
  "resume-changed-again": resumeChangedAgain,
  "resume-absent-collection": resumeAbsentCollection,
  "epoch-mismatch": epochMismatch,
  "subscribe-first-message": subscribeFirstMessage,
  "subscribe-catch-up-then-live": subscribeCatchUpThenLive,
  "subscribe-resume": subscribeResume,
  "subscribe-filter": subscribeFilter,
  "heartbeat-requested": heartbeatRequested,
  "heartbeat-default": heartbeatDefault,
  "heartbeat-checkpoint-resumable": heartbeatCheckpointResumable,
  "concurrent-writers": concurrentWriters,
  "conflict-report": conflictReport,
  "conflict-insert-existing": conflictInsertExisting,
  "conflict-unknown-base": conflictUnknownBase,
  "conflict-lww": conflictLww,
  "conflict-server-wins": conflictServerWins,
  "conflict-client-wins": conflictClientWins,
  "conflict-merge": conflictMerge,
  "no-conflict-accepted": noConflictAccepted,
  "idempotent-retry": idempotentRetry,
  "idempotent-concurrent-retry": idempotentConcurrentRetry,
  "idempotent-batch-partial": idempotentBatchPartial,
  "idempotency-mismatch": idempotencyMismatch,
  "idempotency-conflict-not-recorded": idempotencyConflictNotRecorded,
  "purge-resync-required": purgeResyncRequired,
  "invalid-documents": invalidDocuments,
  "malformed-bodies": malformedBodies,
  "unknown-method": unknownMethod,
  "request-too-large": requestTooLarge,
  "protocol-round-trip": protocolRoundTrip,
  "connect-get": connectGet,
  "future-timestamp": futureTimestamp,
};
