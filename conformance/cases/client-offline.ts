// The named checks of conformance/cases/client-offline.yaml (suite offline), beside it by name.
import { Operation } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { checkDocument, type ClientCheck, pushesOf, serverState } from "../src/client-check-helpers.js";
import { checkEqual, sleep } from "../src/wire.js";

const offlineNoNetwork: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const client = await ctx.start();
  await client.syncUntilOk();
  await client.setOnline(false);
  const calls = () => ctx.proxy.pushes.length + ctx.proxy.pulls.length + ctx.proxy.subscribes.length;
  const before = calls();
  await client.write(todos, ctx.doc("o"), { v: 1 });
  await client.syncNow().catch(() => undefined);
  await sleep(300);
  checkEqual(calls(), before, "an offline client makes no calls");
  checkEqual((await client.status()).online, false, "status reports offline");
  await client.setOnline(true);
  await client.syncUntilOk();
  checkDocument((await serverState(ctx, todos, ctx.doc("o")))?.document, { v: 1 }, "pushed once back online");
};

const offlineLatestOnce: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const client = await ctx.start({ startOffline: true });
  const id = ctx.doc("x");
  for (let v = 1; v <= 4; v++) await client.write(todos, id, { v });
  await client.write(todos, ctx.doc("y"), { v: 1 });
  await client.setOnline(true);
  await client.syncUntilOk();
  const pushed = pushesOf(ctx, id);
  checkEqual(pushed.length, 1, "a document written 4 times offline is pushed once (§9.2)");
  checkDocument(pushed[0]!.change.document, { v: 4 }, "with its latest state");
  checkEqual(pushed[0]!.change.operation, Operation.INSERT, "as an insert (never seen by the server)");
  for (const p of ctx.proxy.pushes) {
    const ids = p.changes.map((c) => `${c.collection}/${c.documentId}`);
    checkEqual(new Set(ids).size, ids.length, "at most one change per document per push (§9.2)");
  }
};

export const checks: Record<string, ClientCheck> = {
  "offline-no-network": offlineNoNetwork,
  "offline-latest-once": offlineLatestOnce,
};
