// The named checks of conformance/cases/server-heartbeat.yaml (suite heartbeat), beside it by name.
import { create } from "@bufbuild/protobuf";
import { type ChangeEvent, ChangeEventSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { accepted, BackgroundWriter, checkStreamResumable, insertMany, LoopLag, type ServerCheck, Stream, waitForLatest } from "../src/server-check-helpers.js";
import type { ServerContext } from "../src/server-context.js";
import { check, checkEqual, insert, pullAll, Skip, sleep, wireError } from "../src/wire.js";

async function heartbeats(ctx: ServerContext, requestMs: number, expectedMs: number): Promise<void> {
  const todos = ctx.collection("quiet");
  const stream = new Stream(ctx.client(), [todos], { signal: ctx.signal, heartbeatIntervalMs: requestMs });
  try {
    const watchMs = expectedMs * 4;
    await stream.waitFor("caught_up", () => stream.caughtUp());
    // Arrival times are taken by this process: when it is itself late (a
    // loaded machine, many cases at once), a heartbeat sent on time is seen
    // late, so its own lateness is not laid at the server's door.
    const lag = new LoopLag();
    const from = Date.now();
    await sleep(watchMs);
    const late = lag.stop();
    check(!stream.error, `the stream failed: ${stream.error ? wireError(stream.error).message : ""}`);
    const times = [from, ...stream.messages.filter((m) => m.at >= from).map((m) => m.at), Date.now()];
    const tolerance = expectedMs * 0.5 + 150 + late;
    for (let i = 1; i < times.length; i++) {
      const gap = times[i]! - times[i - 1]!;
      check(gap <= expectedMs + tolerance, `a silence of ${gap} ms with a heartbeat interval of ${expectedMs} ms (§5.3; the runner itself was up to ${late} ms late)`);
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
 * Heartbeats every 50 ms on streams over many collections. Each catch-up
 * page merges reads from every collection and holds up to a thousand kilobyte documents, so the
 * first page takes a while and a stream read slowly fills the connection
 * and waits for it between pages: heartbeats fall inside the catch-up, while
 * another client commits elsewhere (the high-water mark runs ahead of the
 * pages still to come). Then the other client commits to the subscribed
 * collections. No heartbeat (and no batch) may carry a checkpoint ahead of a
 * change still to come on its stream: a client resuming from it would never
 * get that change.
 */
const heartbeatNeverAhead: ServerCheck = async (ctx, params) => {
  const collections = Array.from({ length: Number(params.collections ?? 64) }, (_, i) => ctx.collection(`held${i}`));
  const elsewhere = ctx.collection("elsewhere");
  if (new Set([...collections, elsewhere]).size <= collections.length) throw new Skip("the server declares too few fixed collections");
  const perCollection = Number(params.documents ?? 40);
  const pad = "x".repeat(Number(params.documentBytes ?? 1000));
  const perPush = Math.max(1, Math.floor(400 / perCollection));
  const expected = new Map<string, ChangeEvent>();
  for (let i = 0; i < collections.length; i += perPush) {
    const changes = collections.slice(i, i + perPush).flatMap((collection) => Array.from({ length: perCollection }, (_, k) => insert(collection, ctx.doc(`old${k}`), { k, pad }, ctx.seq())));
    const res = await ctx.client().push({ clientId: ctx.clientId(), changes }, { signal: ctx.signal });
    changes.forEach((change, k) => expected.set(`${change.collection}/${change.documentId}`, create(ChangeEventSchema, { ...change, ...accepted(res, k) })));
  }
  const aside = new BackgroundWriter(ctx, [elsewhere], { name: "aside", everyMs: 2, updatesOwn: false });
  // Over HTTP/2 where offered: its flow control makes a slow reader felt at once.
  const client = ctx.client({ compression: false, ...(ctx.features.http2 && ctx.target.protocol !== "grpc" ? { httpVersion: "2" as const } : {}) });
  const streams = [
    { what: "the stream read at once", stream: new Stream(client, collections, { signal: ctx.signal, heartbeatIntervalMs: 50 }) },
    { what: "the stream read slowly", stream: new Stream(client, collections, { signal: ctx.signal, heartbeatIntervalMs: 50, pause: { every: 1, ms: 100, catchUpOnly: true } }) },
  ];
  let writer: BackgroundWriter | undefined;
  try {
    for (const { what, stream } of streams) await stream.waitFor(`${what}: caught_up`, () => stream.caughtUp(), 60_000);
    await aside.stop();
    writer = new BackgroundWriter(ctx, collections, { name: "w", everyMs: 2, updatesOwn: false });
    await sleep(Number(params.liveMs ?? 1000));
    await writer.stop();
    for (const [key, change] of writer.latest()) expected.set(key, change);
    // Every document: a checkpoint run ahead also makes the catch-up skip what it has not sent yet.
    for (const { what, stream } of streams) await waitForLatest(stream, expected, `${what}: every document's latest state`, 60_000);
  } finally {
    await Promise.allSettled([aside.stop(), writer?.stop()]);
    await Promise.all(streams.map(({ stream }) => stream.close()));
  }
  for (const { what, stream } of streams) checkStreamResumable(stream, `${what}, with commits and 50 ms heartbeats`);
  check(streams.some(({ stream }) => stream.heartbeats().length > 0), "the scenario: no heartbeat came at all");
};

export const checks: Record<string, ServerCheck> = {
  "heartbeat-requested": heartbeatRequested,
  "heartbeat-default": heartbeatDefault,
  "heartbeat-checkpoint-resumable": heartbeatCheckpointResumable,
  "heartbeat-never-ahead": heartbeatNeverAhead,
};
