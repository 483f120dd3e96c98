// The named checks of conformance/cases/client-filters.yaml (suite filters),
// beside it by name: a client configured with filters (PROTOCOL §4.10, the
// removals of §13.6, the resync of §8.4). The reference server indexes `list`
// and `tag` in every collection (REFERENCE_SETUP).
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { FilterSchema, type Filter } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { ClientContext } from "../src/client-mode.js";
import { checkDocument, type ClientCheck, clientView, json, pushesOf, serverDocs, serverState, serverWrite } from "../src/client-check-helpers.js";
import { SyncMode } from "../src/control.js";
import type { PullRecord, SubscribeRecord } from "../src/proxy.js";
import { check, checkEqual, eventually, sleep } from "../src/wire.js";

type FilterInit = MessageInitShape<typeof FilterSchema>;

/** A filter on `list` (one value: equality; several: in). */
const onList = (...lists: string[]): FilterInit => ({ conditions: [{ field: "list", values: lists.map((l) => JSON.stringify(l)) }] });

/**
 * A filter as §4.10 compares them: the same conditions in any order, the
 * same values (as JSON values) in any order or repetition.
 */
function canonical(filter: Filter | undefined): string {
  if (!filter) return "(none)";
  try {
    const conditions = filter.conditions.map((c) => [c.field, [...new Set(c.values.map((v) => JSON.stringify(JSON.parse(v))))].sort()] as const);
    return JSON.stringify(conditions.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  } catch {
    return `(values that are not JSON text: ${filter.conditions.flatMap((c) => c.values).join(" ")})`;
  }
}

/** Every read recorded from `from` on carried exactly `filter` for `collection`, and no other filter. */
function checkFilterSent(reads: readonly (PullRecord | SubscribeRecord)[], collection: string, filter: FilterInit, what: string): void {
  check(reads.length > 0, `the scenario: the client sent no ${what}`);
  const want = canonical(create(FilterSchema, filter));
  for (const [n, read] of reads.entries()) {
    const got = canonical(read.filters[collection]);
    check(got === want, `${what} ${n + 1} carried the filter ${got} for ${collection}, configured ${want} (§4.10)`);
    const others = Object.keys(read.filters).filter((c) => c !== collection);
    check(others.length === 0, `${what} ${n + 1} carried filters for collections it was not configured to filter: ${others.join(", ")}`);
  }
}

/** The ids the client holds live, sorted. */
async function heldIds(client: Awaited<ReturnType<ClientContext["start"]>>, collection: string): Promise<string[]> {
  return [...(await clientView(client, collection)).keys()].sort();
}

function isResyncRefusal(text: string | undefined): boolean {
  return text !== undefined && /failed_precondition|RESYNC/i.test(text);
}

const filtersSent: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  await serverWrite(ctx, todos, ctx.doc("a1"), { list: "a" });
  await serverWrite(ctx, todos, ctx.doc("b1"), { list: "b" });
  const filter = onList("a");
  let client = await ctx.start({ collections: [todos], filters: { [todos]: filter } });
  await client.syncUntilOk();
  await serverWrite(ctx, todos, ctx.doc("a2"), { list: "a" });
  await client.syncUntilOk();
  await client.shutdown();
  const restartedAt = ctx.proxy.pulls.length;
  client = await ctx.start({ collections: [todos], filters: { [todos]: filter } });
  await serverWrite(ctx, todos, ctx.doc("a3"), { list: "a" });
  await client.syncUntilOk();
  check(ctx.proxy.pulls.length > restartedAt, "the scenario: the restarted client pulled");
  checkFilterSent(ctx.proxy.pulls, todos, filter, "pull");
  const refused = ctx.proxy.pulls.filter((p) => p.error);
  check(refused.length === 0, `a pull under an unchanged filter was refused: ${refused[0]?.error ?? ""} (the client must send back the checkpoint its filter was read under, §4.10)`);
  checkEqual(await heldIds(client, todos), [ctx.doc("a1"), ctx.doc("a2"), ctx.doc("a3")], "the client holds list a's documents");
};

const filtersMatching: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const docs: Record<string, Record<string, unknown>> = {
    m1: { list: "a", tag: "x" },
    m2: { list: "c", tag: 7 },
    n1: { list: "a", tag: "y" }, // tag fails
    n2: { list: "b", tag: "x" }, // list fails
    n3: { tag: "x" }, // no list
    n4: { list: "a", tag: "7" }, // the string "7" is not the number 7
    n5: { list: ["a"], tag: "x" }, // an array matches nothing
  };
  for (const [name, doc] of Object.entries(docs)) await serverWrite(ctx, todos, ctx.doc(name), doc);
  const filter: FilterInit = {
    conditions: [
      { field: "list", values: ['"a"', '"c"'] },
      { field: "tag", values: ['"x"', "7"] },
    ],
  };
  const client = await ctx.start({ collections: [todos], filters: { [todos]: filter } });
  await client.syncUntilOk();
  const server = await serverDocs(ctx, todos);
  const view = await clientView(client, todos);
  checkEqual([...view.keys()].sort(), [ctx.doc("m1"), ctx.doc("m2")], "the client holds exactly the documents matching both conditions (§4.10)");
  for (const id of view.keys()) {
    checkEqual(view.get(id), json(server.get(id)!.document), `${id} as the server has it`);
    checkEqual((await client.readOne(todos, id))?.revision, server.get(id)!.revision, `the revision of ${id}`);
  }
  checkFilterSent(ctx.proxy.pulls, todos, filter, "pull");
};

const filtersMoveOut: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const [out, stays] = [ctx.doc("out"), ctx.doc("stays")];
  await serverWrite(ctx, todos, out, { list: "a", v: 1 });
  await serverWrite(ctx, todos, stays, { list: "a", v: 1 });
  const client = await ctx.start({ collections: [todos], filters: { [todos]: onList("a") } });
  await client.syncUntilOk();
  checkEqual(await heldIds(client, todos), [out, stays].sort(), "the client holds both documents of list a");
  await serverWrite(ctx, todos, out, { list: "b", v: 2 });
  await client.syncUntilOk();
  checkEqual(await client.read(todos, out), [], "a document that stops matching is dropped, no copy and no tombstone kept (§13.6)");
  checkEqual(await heldIds(client, todos), [stays], "the document still matching stays");
  await client.syncUntilOk();
  checkEqual(pushesOf(ctx, out).length, 0, "the client pushes nothing for a removed document (§13.6: MUST NOT push a delete)");
  checkEqual((await client.status()).pendingChanges, 0, "nothing is pending after the removal");
  const onServer = await serverState(ctx, todos, out);
  check(onServer !== undefined && !onServer.deleted, "the document stays on the server");
  checkDocument(onServer?.document, { list: "b", v: 2 }, "the server's document");
};

const filtersMoveIn: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const moving = ctx.doc("in");
  await serverWrite(ctx, todos, moving, { list: "b", v: 1 });
  await serverWrite(ctx, todos, ctx.doc("a1"), { list: "a" });
  const client = await ctx.start({ collections: [todos], filters: { [todos]: onList("a") } });
  await client.syncUntilOk();
  checkEqual(await heldIds(client, todos), [ctx.doc("a1")], "the client holds list a only");
  const { revision } = await serverWrite(ctx, todos, moving, { list: "a", v: 2 });
  await client.syncUntilOk();
  const held = await client.readOne(todos, moving);
  checkDocument(held?.document, { list: "a", v: 2 }, "a document that starts matching arrives in its current state (§4.10)");
  checkEqual(held?.revision, revision, "with its current revision");
};

const filtersLive: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const [leaving, coming] = [ctx.doc("leaving"), ctx.doc("coming")];
  await serverWrite(ctx, todos, leaving, { list: "a" });
  await serverWrite(ctx, todos, coming, { list: "b" });
  const filter = onList("a");
  const client = await ctx.start({ collections: [todos], filters: { [todos]: filter }, syncMode: SyncMode.SUBSCRIBE });
  await client.syncUntilOk();
  await eventually("the client holds list a", async () => ((await heldIds(client, todos)).join() === leaving ? true : undefined), 10_000);
  await serverWrite(ctx, todos, leaving, { list: "b" });
  await serverWrite(ctx, todos, coming, { list: "a" });
  await eventually(
    "live, without sync_now: the document leaving the filter goes, the one entering it arrives",
    async () => ((await heldIds(client, todos)).join() === coming ? true : undefined),
    10_000,
  );
  checkEqual(await client.read(todos, leaving), [], "no copy and no tombstone of the removed document (§13.6)");
  checkFilterSent(ctx.proxy.subscribes, todos, filter, "subscribe");
  checkFilterSent(ctx.proxy.pulls, todos, filter, "pull");
  checkEqual(pushesOf(ctx, leaving).length, 0, "nothing is pushed for the removed document");
};

const filtersOwnWrite: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const own = ctx.doc("own");
  const client = await ctx.start({ collections: [todos], filters: { [todos]: onList("a") } });
  await client.syncUntilOk();
  await client.write(todos, own, { list: "z" });
  await client.syncUntilOk();
  checkDocument((await serverState(ctx, todos, own))?.document, { list: "z" }, "the client's write outside its filter is pushed");
  await serverWrite(ctx, todos, ctx.doc("a1"), { list: "a" });
  await client.syncUntilOk();
  const held = await client.readOne(todos, own);
  checkDocument(held?.document, { list: "z" }, "and stays in the client's local database (§4.10)");
  checkEqual(held?.pending, false, "acknowledged, not pending");
  checkEqual(await heldIds(client, todos), [ctx.doc("a1"), own].sort(), "the client syncs on: list a arrives");
  checkEqual(pushesOf(ctx, own).length, 1, "pushed once");
};

const filtersChanged: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const [x1, x2, y1] = [ctx.doc("x1"), ctx.doc("x2"), ctx.doc("y1")];
  await serverWrite(ctx, todos, x1, { list: "a" });
  await serverWrite(ctx, todos, x2, { list: "a" });
  await serverWrite(ctx, todos, y1, { list: "b" });
  let client = await ctx.start({ collections: [todos], filters: { [todos]: onList("a") }, syncMode: SyncMode.SUBSCRIBE });
  await client.syncUntilOk();
  await eventually("the client holds list a", async () => ((await heldIds(client, todos)).join() === [x1, x2].sort().join() ? true : undefined), 10_000);
  await client.shutdown();
  // The same replica, now filtered on list b; offline, it edits x1 (of list a).
  client = await ctx.start({ collections: [todos], filters: { [todos]: onList("b") }, syncMode: SyncMode.SUBSCRIBE, startOffline: true });
  await client.write(todos, x1, { list: "a", note: "mine" });
  const before = { pulls: ctx.proxy.pulls.length, subscribes: ctx.proxy.subscribes.length };
  // Pushes fail from now on, so x1 is still pending when the resync ends.
  ctx.proxy.inject("push", { kind: "unavailable" }, 1000);
  await client.setOnline(true);
  await eventually("the client resyncs under its new filter on its own: list b arrives, x2 goes", async () => ((await heldIds(client, todos)).join() === [x1, y1].sort().join() ? true : undefined), 20_000);
  const reads = [...ctx.proxy.pulls.slice(before.pulls), ...ctx.proxy.subscribes.slice(before.subscribes)];
  check(
    reads.some((r) => (r.checkpoint?.collections[todos] ?? 0n) > 0n && isResyncRefusal("messages" in r ? r.ended : r.error)),
    "the scenario: the server refused the stored checkpoint under the new filter with resync-required",
  );
  check(reads.some((r) => (r.checkpoint?.collections[todos] ?? 0n) === 0n), "the client pulled the collection again from the beginning (§4.10, §8.4)");
  checkFilterSent(reads, todos, onList("b"), "read after the restart");
  await sleep(300);
  const pending = await client.readOne(todos, x1);
  checkDocument(pending?.document, { list: "a", note: "mine" }, "the resync keeps a document with a pending local change, although the new filter does not cover it (§8.4)");
  checkEqual(pending?.pending, true, "the local change is still pending (no push got through)");
  check(!ctx.proxy.pushes.some((p) => p.results), "the scenario: no push reached the server during the resync");
  ctx.proxy.clearFaults();
  await client.syncUntilOk();
  checkDocument((await serverState(ctx, todos, x1))?.document, { list: "a", note: "mine" }, "the pending change is pushed once pushes work");
  checkEqual(await heldIds(client, todos), [x1, y1].sort(), "x2, which the new filter does not cover, stays gone");
};

export const checks: Record<string, ClientCheck> = {
  "filters-sent": filtersSent,
  "filters-matching": filtersMatching,
  "filters-move-out": filtersMoveOut,
  "filters-move-in": filtersMoveIn,
  "filters-live": filtersLive,
  "filters-own-write": filtersOwnWrite,
  "filters-changed": filtersChanged,
};
