// The named checks of conformance/cases/server-heartbeat.yaml (suite heartbeat), beside it by name.
import type { Checkpoint } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { insertMany, type ServerCheck, Stream } from "../src/server-check-helpers.js";
import type { ServerContext } from "../src/server-context.js";
import { check, checkEqual, pullAll, sleep, wireError } from "../src/wire.js";

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

export const checks: Record<string, ServerCheck> = {
  "heartbeat-requested": heartbeatRequested,
  "heartbeat-default": heartbeatDefault,
  "heartbeat-checkpoint-resumable": heartbeatCheckpointResumable,
};
