// The named checks of conformance/cases/client-tombstones.yaml (suite tombstones), beside it by name.
import {
  checkDocument,
  type ClientCheck,
  clientView,
  serverDelete,
  serverDocs,
  serverState,
  serverWrite,
} from "../src/client-check-helpers.js";
import { check, checkEqual, eventually } from "../src/wire.js";

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

export const checks: Record<string, ClientCheck> = {
  "tombstone-resync": tombstoneResync,
};
