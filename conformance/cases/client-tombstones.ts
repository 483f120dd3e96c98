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
import { SyncMode } from "../src/control.js";
import { check, checkEqual, eventually, insert, sleep } from "../src/wire.js";

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
  // Wait until the tombstone is purged (retention 3 s, purge every 100 ms).
  await eventually("the server purges the tombstone", async () => {
    const all = await serverDocs(ctx, todos);
    return all.has(ctx.doc("gone")) ? undefined : true;
  }, 20_000, 100);
  await client.setOnline(true);
  await client.syncUntilOk();
  const refused = ctx.proxy.pulls.some((p) => p.error?.includes("RESYNC") || p.error?.includes("failed_precondition"));
  check(refused, "the client's pull was refused with resync-required (the scenario did not happen)");
  const view = await clientView(client, todos);
  checkEqual([...view.keys()].sort(), [ctx.doc("keep"), ctx.doc("new"), ctx.doc("pending")].sort(), "after resync: the purged document is gone, the pending one kept (§8.4)");
  checkDocument((await serverState(ctx, todos, ctx.doc("pending")))?.document, { local: true }, "the pending change is pushed as usual");
};

/**
 * A resync whose full pull takes several pages (1100 documents: no page holds
 * more than 1000, §14): what "came back" is every page's documents, so a
 * client that judges by the first page alone (or stops after it) deletes
 * documents that are still there.
 */
const tombstoneResyncSeveralPages: ClientCheck = async (ctx, params) => {
  const todos = ctx.collection();
  const n = Number(params.documents ?? 1100);
  for (let start = 0; start < n; start += 500) {
    const changes = Array.from({ length: Math.min(500, n - start) }, (_, k) => insert(todos, ctx.doc(`d${start + k}`), { i: start + k }, ctx.nextRunnerSequence()));
    const res = await ctx.direct.push({ clientId: ctx.runnerId, changes });
    check(res.results.every((r) => r.outcome.case === "accepted"), "the runner's documents are accepted");
  }
  const client = await ctx.start();
  await client.syncUntilOk();
  checkEqual((await clientView(client, todos)).size, n, "the client has every document");
  await client.setOnline(false);
  await client.write(todos, ctx.doc("pending"), { local: true });
  const gone = [ctx.doc("d3"), ctx.doc(`d${n - 3}`)];
  for (const id of gone) await serverDelete(ctx, todos, id);
  await serverWrite(ctx, todos, ctx.doc("new"), { v: 1 });
  await eventually("the server purges the tombstones", async () => {
    const all = await serverDocs(ctx, todos);
    return gone.some((id) => all.has(id)) ? undefined : true;
  }, 20_000, 100);
  await client.setOnline(true);
  await client.syncUntilOk();
  const refused = ctx.proxy.pulls.findIndex((p) => p.error?.includes("RESYNC") || p.error?.includes("failed_precondition"));
  check(refused >= 0, "the client's pull was refused with resync-required (the scenario did not happen)");
  check(ctx.proxy.pulls.slice(refused).some((p) => p.response?.hasMore), "the scenario: the resync's full pull took several pages");
  const view = await clientView(client, todos);
  const expected = [...Array.from({ length: n }, (_, i) => ctx.doc(`d${i}`)).filter((id) => !gone.includes(id)), ctx.doc("new"), ctx.doc("pending")].sort();
  const missing = expected.filter((id) => !view.has(id));
  check(missing.length === 0, `after a resync of several pages the client lost ${missing.length} documents the full pull brought back, such as ${missing.slice(0, 3).join(", ")} (§8.4)`);
  checkEqual([...view.keys()].sort(), expected, "after resync: exactly the documents that came back, and the pending one (§8.4)");
};

/**
 * §8.4 "unless they have pending changes": the resync runs while the local
 * change cannot be pushed (pushes fail, the live stream is refused with
 * resync-required), so the change is still pending when the client deletes
 * what did not come back. A client that deletes every document the server
 * did not send loses it; pushing first (as a sync may) hides that.
 */
const tombstoneResyncWhilePending: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  await serverWrite(ctx, todos, ctx.doc("keep"), { v: 1 });
  await serverWrite(ctx, todos, ctx.doc("gone"), { v: 1 });
  const client = await ctx.start({ syncMode: SyncMode.SUBSCRIBE });
  await client.syncUntilOk();
  checkEqual((await clientView(client, todos)).size, 2, "the client has both documents");
  await client.setOnline(false);
  await client.write(todos, ctx.doc("pending"), { local: true });
  await serverDelete(ctx, todos, ctx.doc("gone"));
  await eventually("the server purges the tombstone", async () => ((await serverDocs(ctx, todos)).has(ctx.doc("gone")) ? undefined : true), 20_000, 100);
  const before = { pulls: ctx.proxy.pulls.length, subscribes: ctx.proxy.subscribes.length };
  // Pushes fail from now on; pulls and the stream work.
  ctx.proxy.inject("push", { kind: "unavailable" }, 1000);
  await client.setOnline(true);
  await eventually("the client resyncs on its own and drops the purged document (§8.4)", async () => ((await clientView(client, todos)).has(ctx.doc("gone")) ? undefined : true), 20_000, 100);
  const fromStart = [...ctx.proxy.pulls.slice(before.pulls), ...ctx.proxy.subscribes.slice(before.subscribes)].filter((c) => !c.checkpoint?.collections[todos]);
  check(fromStart.length > 0, "the scenario: the client pulled the collection again from the beginning");
  await sleep(300);
  const during = await client.readOne(todos, ctx.doc("pending"));
  checkDocument(during?.document, { local: true }, "the resync keeps a document with a pending local change, although the server did not send it (§8.4)");
  checkEqual(during?.pending, true, "the local change is still pending (no push got through)");
  check(!ctx.proxy.pushes.some((p) => p.results), "the scenario: no push reached the server during the resync");
  ctx.proxy.clearFaults();
  await client.syncUntilOk();
  checkDocument((await serverState(ctx, todos, ctx.doc("pending")))?.document, { local: true }, "the pending change is pushed once pushes work again");
  checkEqual([...(await clientView(client, todos)).keys()].sort(), [ctx.doc("keep"), ctx.doc("pending")].sort(), "after resync: the purged document gone, the others kept");
};

/**
 * §8.4: a resync deletes what did not come back only once its full pull is
 * done. Here the resync's first page comes through and every later page
 * fails for a while (a subscribed client, refused with resync-required, so
 * the resync runs on its own): a client that deletes after the first page,
 * or stores its checkpoint then, loses documents it still holds, even if
 * a later pull brings them back.
 */
const tombstoneResyncInterrupted: ClientCheck = async (ctx, params) => {
  const todos = ctx.collection();
  const n = Number(params.documents ?? 1100);
  for (let start = 0; start < n; start += 500) {
    const changes = Array.from({ length: Math.min(500, n - start) }, (_, k) => insert(todos, ctx.doc(`d${start + k}`), { i: start + k }, ctx.nextRunnerSequence()));
    const res = await ctx.direct.push({ clientId: ctx.runnerId, changes });
    check(res.results.every((r) => r.outcome.case === "accepted"), "the runner's documents are accepted");
  }
  const client = await ctx.start({ syncMode: SyncMode.SUBSCRIBE });
  await client.syncUntilOk();
  await eventually("the client has every document", async () => ((await clientView(client, todos)).size === n ? true : undefined), 20_000, 100);
  await client.setOnline(false);
  const gone = [ctx.doc("d3"), ctx.doc(`d${n - 3}`)];
  for (const id of gone) await serverDelete(ctx, todos, id);
  await eventually("the server purges the tombstones", async () => {
    const all = await serverDocs(ctx, todos);
    return gone.some((id) => all.has(id)) ? undefined : true;
  }, 20_000, 100);
  // Once the resync has begun (a pull from the collection's start), every
  // pull from a later position fails.
  ctx.proxy.pullFault = (request) => ((request.checkpoint?.collections[todos] ?? 0n) > 0n && ctx.proxy.pulls.some((p) => (p.checkpoint?.collections[todos] ?? 0n) === 0n && p.response) ? { kind: "unavailable" } : undefined);
  await client.setOnline(true);
  await eventually("the resync's first page comes, and a later page is refused", async () => (ctx.proxy.pulls.some((p) => p.fault === "unavailable") ? true : undefined), 20_000, 100);
  await sleep(500);
  const interrupted = await clientView(client, todos);
  const lost = Array.from({ length: n }, (_, i) => ctx.doc(`d${i}`)).filter((id) => !gone.includes(id) && !interrupted.has(id));
  check(lost.length === 0, `a resync that could not finish its full pull deleted ${lost.length} documents the server still has, such as ${lost.slice(0, 3).join(", ")} (§8.4: delete only once the full pull is done)`);
  ctx.proxy.clearFaults();
  const expected = Array.from({ length: n }, (_, i) => ctx.doc(`d${i}`)).filter((id) => !gone.includes(id)).sort();
  await eventually("the resync finishes once pulls work: exactly the documents the server has", async () => {
    const view = await clientView(client, todos);
    return view.size === expected.length && expected.every((id) => view.has(id)) ? true : undefined;
  }, 30_000, 200);
};

export const checks: Record<string, ClientCheck> = {
  "tombstone-resync-interrupted": tombstoneResyncInterrupted,
  "tombstone-resync-while-pending": tombstoneResyncWhilePending,
  "tombstone-resync-several-pages": tombstoneResyncSeveralPages,
  "tombstone-resync": tombstoneResync,
};
