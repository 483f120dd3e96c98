// The named checks of conformance/cases/server-heartbeat.yaml (suite heartbeat), beside it by name.
import { accepted, BackgroundWriter, checkStreamResumable, insertMany, type ServerCheck, Stream, waitForLatest } from "../src/server-check-helpers.js";
import type { ServerContext } from "../src/server-context.js";
import { check, checkEqual, insert, pullAll, Skip, sleep, wireError } from "../src/wire.js";

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

/**
 * Heartbeats on a stream whose collection is quiet while another collection
 * is busy (so the high-water mark keeps moving and a server may advance the
 * idle position with it), with a change to the subscribed collection now
 * and then: a pull from any heartbeat's checkpoint returns exactly the
 * changes the stream delivered after that heartbeat.
 */
const heartbeatCheckpointResumable: ServerCheck = async (ctx) => {
  const quiet = ctx.collection("beat");
  const busy = ctx.collection("busy");
  if (quiet === busy) throw new Skip("the server declares a single fixed collection");
  await insertMany(ctx, quiet, 2, "before");
  const writer = new BackgroundWriter(ctx, [busy], { name: "busy", everyMs: 5 });
  const stream = new Stream(ctx.client(), [quiet], { signal: ctx.signal, heartbeatIntervalMs: 100 });
  const written: string[] = [];
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp());
    for (let round = 0; round < 4; round++) {
      const seen = stream.heartbeats().length;
      await stream.waitFor("two heartbeats between changes (§5.3)", () => stream.heartbeats().length >= seen + 2, 5000);
      written.push(...(await insertMany(ctx, quiet, 1, `r${round}-`)).map((w) => w.id));
    }
    await writer.stop();
    await stream.waitFor("every change on the stream", () => written.every((id) => stream.changes().some((c) => c.documentId === id)));
    const settled = stream.heartbeats().length;
    await stream.waitFor("a heartbeat after the last change", () => stream.heartbeats().length > settled, 5000);
  } finally {
    await writer.stop().catch(() => undefined);
    await stream.close();
  }
  checkStreamResumable(stream, "a quiet stream beside a busy collection");
  const messages = stream.messages;
  for (const [index, message] of messages.entries()) {
    const e = message.message.event;
    if (e.case !== "heartbeat") continue;
    const later = messages.slice(index + 1).flatMap((m) => (m.message.event.case === "changes" ? ctx.mine(m.message.event.value.changes) : []));
    const pulled = await pullAll(ctx.client(), [quiet], e.value.checkpoint);
    checkEqual(
      ctx.mine(pulled.changes).map((c) => c.documentId),
      later.map((c) => c.documentId),
      `a pull from heartbeat ${index}'s checkpoint returns exactly the changes the stream delivered after it (§5.3, §4.6)`,
    );
  }
};

/**
 * Heartbeats every 50 ms on streams over many collections while another
 * client commits to them. Each catch-up page merges reads from every
 * collection, so the catch-up is slow enough for heartbeats to fall between
 * its pages; one stream is read at once, another slowly (the server's
 * transport fills up and it must hold live changes back). No heartbeat (and
 * no batch) may carry a checkpoint ahead of a change still to come on its
 * stream: a client resuming from it would never get that change.
 */
const heartbeatNeverAhead: ServerCheck = async (ctx, params) => {
  const collections = Array.from({ length: Number(params.collections ?? 32) }, (_, i) => ctx.collection(`held${i}`));
  if (new Set(collections).size < collections.length) throw new Skip("the server declares too few fixed collections");
  const perCollection = Number(params.documents ?? 200);
  for (let i = 0; i < collections.length; i += Math.max(1, Math.floor(500 / perCollection))) {
    const group = collections.slice(i, i + Math.max(1, Math.floor(500 / perCollection)));
    const changes = group.flatMap((collection) => Array.from({ length: perCollection }, (_, k) => insert(collection, ctx.doc(`old${k}`), { k }, ctx.seq())));
    const res = await ctx.client().push({ clientId: ctx.clientId(), changes }, { signal: ctx.signal });
    changes.forEach((_, k) => accepted(res, k));
  }
  const writer = new BackgroundWriter(ctx, collections, { name: "w", everyMs: 2, updatesOwn: false });
  const client = ctx.client({ compression: false });
  const fast = new Stream(client, collections, { signal: ctx.signal, heartbeatIntervalMs: 50 });
  const slow = new Stream(client, collections, { signal: ctx.signal, heartbeatIntervalMs: 50, pause: { every: 3, ms: 60 } });
  try {
    await fast.waitFor("caught_up", () => fast.caughtUp(), 30_000);
    await slow.waitFor("caught_up", () => slow.caughtUp(), 60_000);
    await sleep(Number(params.liveMs ?? 1000));
    await writer.stop();
    await waitForLatest(fast, writer.latest(), "every committed change on the stream read at once", 30_000);
    await waitForLatest(slow, writer.latest(), "every committed change on the stream read slowly", 60_000);
  } finally {
    await writer.stop().catch(() => undefined);
    await Promise.all([fast.close(), slow.close()]);
  }
  checkStreamResumable(fast, "a stream read at once, with commits and 50 ms heartbeats");
  checkStreamResumable(slow, "a stream read slowly, with commits and 50 ms heartbeats");
};

export const checks: Record<string, ServerCheck> = {
  "heartbeat-requested": heartbeatRequested,
  "heartbeat-default": heartbeatDefault,
  "heartbeat-checkpoint-resumable": heartbeatCheckpointResumable,
  "heartbeat-never-ahead": heartbeatNeverAhead,
};
