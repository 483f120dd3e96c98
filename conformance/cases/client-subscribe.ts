// The named checks of conformance/cases/client-subscribe.yaml (suite subscribe), beside it by name.
import { SyncMode } from "../src/control.js";
import { type ClientCheck, isEmptyCheckpoint, serverWrite } from "../src/client-check-helpers.js";
import { check, eventually } from "../src/wire.js";

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

export const checks: Record<string, ClientCheck> = {
  "subscribe-live": subscribeLive,
  "subscribe-reconnect": subscribeReconnect,
};
