// The named checks of conformance/cases/client-every-collection.yaml (suite
// every-collection), beside it by name: a client configured with no
// collections syncs every collection its token may read (PROTOCOL §4.8).
import { type ClientCheck, clientView, serverState, serverWrite } from "../src/client-check-helpers.js";
import { SyncMode } from "../src/control.js";
import { check, checkEqual, eventually } from "../src/wire.js";

const everyCollectionSync: ClientCheck = async (ctx) => {
  const [a, b, made, later] = ["ev_a", "ev_b", "ev_made", "ev_later"].map((n) => ctx.collection(n));
  await serverWrite(ctx, a!, ctx.doc("a1"), { v: 1 });
  await serverWrite(ctx, b!, ctx.doc("b1"), { v: 1 });
  const client = await ctx.start({ collections: [] });
  await client.syncUntilOk();
  checkEqual(Object.fromEntries(await clientView(client, a!)), { [ctx.doc("a1")]: { v: 1 } }, `the client configured with no collections has ${a}`);
  checkEqual(Object.fromEntries(await clientView(client, b!)), { [ctx.doc("b1")]: { v: 1 } }, `the client configured with no collections has ${b}`);
  check(ctx.proxy.pulls.length > 0 && ctx.proxy.pulls.every((p) => p.collections.length === 0), "the client pulls naming no collection (§4.8)");
  // Its own write to a collection new to everyone is pushed.
  await client.write(made!, ctx.doc("m1"), { v: 2 });
  await client.syncUntilOk();
  checkEqual((await serverState(ctx, made!, ctx.doc("m1")))?.document, '{"v":2}', "the client's write to a new collection reaches the server");
  // A collection created by someone else after the client's checkpoint arrives from its beginning.
  const resumedFrom = ctx.proxy.pulls.length;
  await serverWrite(ctx, later!, ctx.doc("l1"), { v: 3 });
  await client.syncUntilOk();
  checkEqual(Object.fromEntries(await clientView(client, later!)), { [ctx.doc("l1")]: { v: 3 } }, "a collection created after the client's checkpoint");
  // ... by resuming from the stored checkpoint, which holds the collections met so far (§9.4).
  const resumed = ctx.proxy.pulls.slice(resumedFrom);
  check(resumed.length > 0 && resumed.every((p) => (p.checkpoint?.collections[a!] ?? 0n) > 0n), `the client resumes from its stored checkpoint, holding a position for ${a}`);
};

const everyCollectionStream: ClientCheck = async (ctx) => {
  const later = ctx.collection("ev_stream");
  const client = await ctx.start({ collections: [], syncMode: SyncMode.SUBSCRIBE });
  await client.syncUntilOk();
  await serverWrite(ctx, later, ctx.doc("live"), { v: 1 });
  await eventually("a change to a collection created while the stream is open arrives without sync_now", async () => ((await client.readOne(later, ctx.doc("live"))) ? true : undefined), 10_000);
  check(ctx.proxy.subscribes.some((s) => s.collections.length === 0), "the client subscribes naming no collection (§4.8)");
};

export const checks: Record<string, ClientCheck> = {
  "every-collection-sync": everyCollectionSync,
  "every-collection-stream": everyCollectionStream,
};
