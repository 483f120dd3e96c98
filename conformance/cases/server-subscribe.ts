// The named checks of conformance/cases/server-subscribe.yaml (suite subscribe), beside it by name.
import { BackgroundWriter, checkIncreasing, checkStreamResumable, insertMany, type ServerCheck, Stream, type Written } from "../src/server-check-helpers.js";
import { check, checkEqual, eventually, latestByDocument, Skip, sleep } from "../src/wire.js";

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

/**
 * Catch-ups of several pages while another client commits to the subscribed
 * collections: new documents, and one update to each existing document the
 * catch-ups are reading. Streams open one after another while the commits
 * go on, so each catch-up's pages and its switch to live changes race them.
 * Every document changes at most once during the race, so a change a stream
 * missed cannot hide behind a later one: every stream must deliver every
 * document's latest state, none twice, in sequence order, with resumable
 * checkpoints.
 */
const subscribeCommitsDuringCatchUp: ServerCheck = async (ctx, params) => {
  const collections = Array.from({ length: Number(params.collections ?? 16) }, (_, i) => ctx.collection(`race${i}`));
  if (new Set(collections).size < collections.length) throw new Skip("the server declares too few fixed collections");
  const perCollection = Number(params.documents ?? 40);
  const streams = Number(params.streams ?? 12);
  const writers = Number(params.writers ?? 3);
  const old: Written[] = [];
  for (const collection of collections) {
    for (const o of await insertMany(ctx, collection, perCollection, "old")) old.push({ collection, id: o.id, revision: o.revision });
  }
  // Each writer updates its share of the existing documents, in an order
  // that spreads the updates over every page of the catch-ups.
  const shuffled = old.map((o, i) => ({ o, key: (i * 7919) % old.length })).sort((a, b) => a.key - b.key).map((x) => x.o);
  const running = Array.from({ length: writers }, (_, w) =>
    new BackgroundWriter(ctx, collections, { name: `w${w}-`, existing: shuffled.filter((_, i) => i % writers === w), updatesOwn: false }),
  );
  const committed = () => running.reduce((n, w) => n + w.accepted.length, 0);
  const opened: Stream[] = [];
  try {
    for (let i = 0; i < streams; i++) {
      const before = committed();
      await eventually("the background writers commit", async () => (committed() >= before + 2 ? true : undefined), 10_000, 1);
      opened.push(new Stream(ctx.client({ compression: false }), collections, { signal: ctx.signal, heartbeatIntervalMs: 1000 }));
    }
    for (const stream of opened) await stream.waitFor("caught_up", () => stream.caughtUp(), 30_000);
    const atCaughtUp = committed();
    await eventually("more commits after the catch-ups", async () => (committed() >= atCaughtUp + 10 ? true : undefined), 10_000, 2);
    await Promise.all(running.map((w) => w.stop()));
    const expected = new Map<string, string>(old.map((o) => [`${o.collection}/${o.id}`, o.revision]));
    for (const w of running) for (const [key, change] of w.latest()) expected.set(key, change.revision);
    const last = running.flatMap((w) => w.accepted).reduce((max, c) => (c.serverSequence > max ? c.serverSequence : max), 0n);
    for (const [i, stream] of opened.entries()) {
      const first = stream.checkpoints()[0]?.checkpoint?.serverSequence ?? 0n;
      check(last > first, `stream ${i}: the scenario did not happen: nothing was committed after it opened`);
      await stream.waitFor(`stream ${i}: every document's latest state, including every change committed during its catch-up (§5.1)`, () => {
        const delivered = latestByDocument(stream.changes());
        return [...expected].every(([key, revision]) => delivered.get(key)?.revision === revision);
      }, 20_000);
      checkStreamResumable(stream, `stream ${i}, with commits during its catch-up`);
    }
  } finally {
    await Promise.allSettled(running.map((w) => w.stop()));
    await Promise.all(opened.map((s) => s.close()));
  }
};

/**
 * Pull and Subscribe with client_id set to the id of the client that pushed:
 * it is for logs and metrics, and the pusher's own changes still come back
 * (a server must not filter them out: a client that crashed before storing
 * its push's results, or a second replica under the same id after a restore,
 * needs them; echoes are the client's to suppress by revision, §9.3).
 */
const ownClientIdStillReceives: ServerCheck = async (ctx) => {
  const todos = ctx.collection("own");
  const clientId = ctx.clientId("pusher");
  const mine = await insertMany(ctx, todos, 3, "own", clientId);
  const pulled = await ctx.client().pull({ collections: [todos], clientId });
  checkEqual(ctx.mine(pulled.changes).map((c) => c.documentId), mine.map((m) => m.id), "a pull with client_id set to the pusher's id returns the pusher's own changes (§4.5)");
  const stream = new Stream(ctx.client(), [todos], { signal: ctx.signal, clientId });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp());
    checkEqual(ctx.mine(stream.changes()).map((c) => c.documentId), mine.map((m) => m.id), "a catch-up with client_id set to the pusher's id includes its own changes (§5.1)");
    const live = await insertMany(ctx, todos, 1, "live", clientId);
    await stream.waitFor("the pusher's own live change (§5.1)", () => ctx.mine(stream.changes()).some((c) => c.documentId === live[0]!.id));
  } finally {
    await stream.close();
  }
};

export const checks: Record<string, ServerCheck> = {
  "subscribe-commits-during-catch-up": subscribeCommitsDuringCatchUp,
  "own-client-id-still-receives": ownClientIdStillReceives,
  "subscribe-first-message": subscribeFirstMessage,
  "subscribe-catch-up-then-live": subscribeCatchUpThenLive,
  "subscribe-resume": subscribeResume,
  "subscribe-filter": subscribeFilter,
};
