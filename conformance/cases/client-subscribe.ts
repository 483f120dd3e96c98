// The named checks of conformance/cases/client-subscribe.yaml (suite subscribe), beside it by name.
import { SyncMode } from "../src/control.js";
import { type ClientCheck, isEmptyCheckpoint, serverState, serverWrite } from "../src/client-check-helpers.js";
import { equals } from "@bufbuild/protobuf";
import { CheckpointSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { check, CheckFailure, eventually, stringify } from "../src/wire.js";

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

/**
 * Heartbeats on a quiet stream carry checkpoints that move on as other
 * collections commit (§5.3): the client stores them as received, so a
 * restart resumes from the newest position it was given.
 */
const subscribeHeartbeatCheckpoint: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const elsewhere = ctx.collection("elsewhere");
  await serverWrite(ctx, todos, ctx.doc("a"), { v: 1 });
  const client = await ctx.start({ syncMode: SyncMode.SUBSCRIBE });
  await client.syncUntilOk();
  await eventually("the client has the document", async () => ((await client.readOne(todos, ctx.doc("a"))) ? true : undefined), 10_000);
  /** The newest heartbeat the client was sent, on whichever of its streams. */
  const lastBeat = () => ctx.proxy.subscribes.filter((s) => s.lastHeartbeat).at(-1)?.lastHeartbeat;
  // Commits the stream does not carry move the high-water mark its heartbeats report.
  await serverWrite(ctx, elsewhere, ctx.doc("x"), { v: 1 });
  const committed = (await serverState(ctx, elsewhere, ctx.doc("x")))!.serverSequence;
  await eventually(
    "a heartbeat with a newer checkpoint (at the interval the client asked for, or the server's default of a second)",
    async () => {
      // Judged by what it covers, not by comparison with a batch: the
      // client's stream may not have had its first message when it got the
      // document (by a pull), or may have been opened again since.
      const beat = lastBeat();
      return beat && beat.serverSequence >= committed ? true : undefined;
    },
    // Clients ask for heartbeats every few seconds (the examples: 5 s); on a loaded machine one may come late.
    20_000,
  );
  await eventually(
    "the client stores the heartbeat's checkpoint, as received (§5.3, §4.4)",
    async () => {
      const beat = lastBeat();
      const stored = (await client.status()).checkpoint;
      return beat && stored && equals(CheckpointSchema, stored, beat) ? true : undefined;
    },
    5_000,
    100,
  ).catch(async (error: unknown) => {
    const stored = (await client.status()).checkpoint;
    throw new CheckFailure(`${(error as Error).message}: stored ${stringify(stored)}, last heartbeat ${stringify(lastBeat())}`);
  });
};

export const checks: Record<string, ClientCheck> = {
  "subscribe-heartbeat-checkpoint": subscribeHeartbeatCheckpoint,
  "subscribe-live": subscribeLive,
  "subscribe-reconnect": subscribeReconnect,
};
