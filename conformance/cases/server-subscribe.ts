// The named checks of conformance/cases/server-subscribe.yaml (suite subscribe), beside it by name.
import { BackgroundWriter, checkIncreasing, checkStreamResumable, insertMany, type ServerCheck, Stream } from "../src/server-check-helpers.js";
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
 * A catch-up of several pages while another client commits to the
 * subscribed collections (new documents and updates of documents the
 * catch-up is reading), before, during and after the catch-up: nothing
 * committed meanwhile is missed, nothing is delivered twice at the seam
 * between catch-up and live, and every checkpoint stays resumable.
 */
const subscribeCommitsDuringCatchUp: ServerCheck = async (ctx, params) => {
  const documents = Number(params.documents ?? 1200);
  const collections = [ctx.collection("race-a"), ctx.collection("race-b")];
  if (collections[0] === collections[1]) throw new Skip("the server declares a single fixed collection");
  const expected = new Map<string, string>();
  for (const collection of collections) {
    for (const o of await insertMany(ctx, collection, documents / collections.length, "old")) expected.set(`${collection}/${o.id}`, o.revision);
  }
  const writer = new BackgroundWriter(ctx, collections, { name: "w" });
  // The writer is committing when the stream opens, so the catch-up starts with commits in flight.
  await eventually("the background writer commits", async () => (writer.accepted.length >= 3 ? true : undefined), 10_000, 5);
  const stream = new Stream(ctx.client({ compression: false }), collections, { signal: ctx.signal, heartbeatIntervalMs: 1000 });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp(), 20_000);
    const atCaughtUp = writer.accepted.length;
    await eventually("more commits after the catch-up", async () => (writer.accepted.length >= atCaughtUp + 10 ? true : undefined), 10_000, 5);
    await writer.stop();
    for (const [key, change] of writer.latest()) expected.set(key, change.revision);
    await stream.waitFor("every document's latest state on the stream (§5.1)", () => {
      const delivered = latestByDocument(stream.changes());
      return [...expected].every(([key, revision]) => delivered.get(key)?.revision === revision);
    }, 20_000);
    const opened = stream.checkpoints()[0]?.checkpoint?.serverSequence ?? 0n;
    check(writer.accepted.some((c) => c.serverSequence > opened), "the scenario did not happen: nothing was committed after the stream opened");
    checkStreamResumable(stream, "a stream with commits during its catch-up");
    const caughtUp = stream.messages.filter((m) => m.message.event.case === "changes" && m.message.event.value.caughtUp);
    check(caughtUp.length >= 1, "no batch had caught_up");
  } finally {
    await writer.stop().catch(() => undefined);
    await stream.close();
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
