// The named checks of conformance/cases/server-conflict.yaml (suite conflict), beside it by name.
import { create } from "@bufbuild/protobuf";
import { type ChangeEvent, ChangeEventSchema, HybridLogicalClockSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { Strategy } from "../src/features.js";
import { accepted, pushOne, type ServerCheck, setupConflict, stateOf } from "../src/server-check-helpers.js";
import { check, checkEqual, insert, remove, stringify, update } from "../src/wire.js";

const conflictReport: ServerCheck = async (ctx) => {
  const s = await setupConflict(ctx, "report");
  const res = await pushOne(ctx, update(s.collection, s.id, { a: 1, b: 3, c: 1 }, s.base.revision, ctx.seq()));
  const r = res.results[0]!;
  check(r.outcome.case === "conflict", `a stale base revision must give conflict with strategy report, got ${r.outcome.case}`);
  const current = r.outcome.value.current;
  check(current, "conflict without current");
  checkEqual(current.revision, s.server.revision, "conflict: current.revision");
  checkEqual(current.document, s.server.document, "conflict: current.document");
  const now = await stateOf(ctx, s.collection, s.id);
  checkEqual(now?.revision, s.server.revision, "nothing is written on conflict");
  // §7.1: the client's resolution, pushed on top of current, is accepted.
  accepted(await pushOne(ctx, update(s.collection, s.id, { a: 2, b: 3, c: 1 }, current.revision, ctx.seq())));
};

const conflictInsertExisting: ServerCheck = async (ctx) => {
  const collection = ctx.strategyCollection("report");
  const id = ctx.doc("dup");
  const first = accepted(await pushOne(ctx, insert(collection, id, { by: "other" }, ctx.seq()), ctx.clientId("other")));
  const res = await pushOne(ctx, insert(collection, id, { by: "me" }, ctx.seq()));
  const r = res.results[0]!;
  check(r.outcome.case === "conflict", `an insert of an existing document must conflict (its empty base differs), got ${r.outcome.case}`);
  checkEqual(r.outcome.value.current?.revision, first.revision, "conflict: current.revision");
};

const conflictUnknownBase: ServerCheck = async (ctx) => {
  const collection = ctx.strategyCollection("report");
  const res = await pushOne(ctx, update(collection, ctx.doc("ghost"), { x: 1 }, "1-doesnotexist", ctx.seq()));
  const r = res.results[0]!;
  check(r.outcome.case === "conflict", `an update of a document that does not exist must conflict (§6.2, §6.3), got ${r.outcome.case}`);
};

const conflictLww: ServerCheck = async (ctx, params) => {
  const clientLater = params.pushedWins === true;
  const s = await setupConflict(ctx, "last-write-wins");
  const ts = clientLater
    ? { wallTimeMs: BigInt(Date.now() + 60_000), logical: 0 }
    : { wallTimeMs: 1_000n, logical: 0 };
  const change = create(ChangeEventSchema, { ...update(s.collection, s.id, { a: 1, b: 3, c: 1 }, s.base.revision, ctx.seq()), timestamp: create(HybridLogicalClockSchema, ts) });
  const r = (await pushOne(ctx, change)).results[0]!;
  check(r.outcome.case === "resolved", `last-write-wins must answer resolved, got ${r.outcome.case}`);
  checkEqual(r.outcome.value.strategy, "last-write-wins", "resolved.strategy");
  const current = r.outcome.value.current;
  check(current, "resolved without current");
  const now = await stateOf(ctx, s.collection, s.id);
  if (clientLater) {
    checkEqual(current.document, '{"a":1,"b":3,"c":1}', "the later pushed change wins");
    check(current.revision !== s.server.revision, "the winning push is committed with a new revision");
    checkEqual(now?.revision, current.revision, "the committed resolution is what a pull returns (§7.3)");
  } else {
    checkEqual(current.revision, s.server.revision, "the later server change wins: current is the server's");
    checkEqual(now?.revision, s.server.revision, "nothing is written when the server's change is later");
  }
};

const conflictServerWins: ServerCheck = async (ctx) => {
  const s = await setupConflict(ctx, "server-wins");
  const r = (await pushOne(ctx, update(s.collection, s.id, { a: 1, b: 3, c: 1 }, s.base.revision, ctx.seq()))).results[0]!;
  check(r.outcome.case === "resolved", `server-wins must answer resolved, got ${r.outcome.case}`);
  checkEqual(r.outcome.value.strategy, "server-wins", "resolved.strategy");
  checkEqual(r.outcome.value.current?.revision, s.server.revision, "resolved.current is the server's document");
  checkEqual(r.outcome.value.current?.document, s.server.document, "resolved.current.document");
  checkEqual((await stateOf(ctx, s.collection, s.id))?.revision, s.server.revision, "nothing is written");
};

const conflictClientWins: ServerCheck = async (ctx) => {
  const s = await setupConflict(ctx, "client-wins");
  const r = (await pushOne(ctx, update(s.collection, s.id, { a: 1, b: 3, c: 1 }, s.base.revision, ctx.seq()))).results[0]!;
  check(r.outcome.case === "resolved", `client-wins must answer resolved, got ${r.outcome.case}`);
  checkEqual(r.outcome.value.strategy, "client-wins", "resolved.strategy");
  const current = r.outcome.value.current;
  check(current, "resolved without current");
  checkEqual(JSON.parse(current.document) as unknown, { a: 1, b: 3, c: 1 }, "resolved.current is the pushed document");
  check(current.revision !== s.server.revision && current.serverSequence > s.server.serverSequence, "the resolution is a new change (§7.3)");
  checkEqual((await stateOf(ctx, s.collection, s.id))?.revision, current.revision, "a pull returns the resolution (§7.3)");
};

interface Side {
  readonly logical: number;
  /** The end of the side's client id: ids compare as byte strings (§10.1). */
  readonly client: string;
}

/**
 * Last-write-wins between two changes with the same wall time: the logical
 * counter decides, and on a full tie the client id compared as bytes (so
 * "Zed" sorts before "abc": a server comparing ids by locale gets it
 * backwards).
 */
const conflictLwwStamps: ServerCheck = async (ctx, params) => {
  const server = params.server as Side;
  const pushed = params.pushed as Side;
  const pushedWins = params.winner === "pushed";
  const collection = ctx.strategyCollection("last-write-wins");
  const id = ctx.doc("stamps");
  const other = ctx.clientId(server.client);
  const base = accepted(await pushOne(ctx, insert(collection, id, { by: "base" }, ctx.seq()), other));
  const wall = BigInt(Date.now());
  const stamped = (change: ChangeEvent, side: Side) => create(ChangeEventSchema, { ...change, timestamp: create(HybridLogicalClockSchema, { wallTimeMs: wall, logical: side.logical }) });
  const serverDoc = '{"by":"server"}';
  const current = accepted(await pushOne(ctx, stamped(update(collection, id, serverDoc, base.revision, ctx.seq()), server), other));
  const r = (await pushOne(ctx, stamped(update(collection, id, { by: "pushed" }, base.revision, ctx.seq()), pushed), ctx.clientId(pushed.client))).results[0]!;
  check(r.outcome.case === "resolved", `last-write-wins must answer resolved, got ${r.outcome.case}`);
  const stamp = (side: Side) => `(${wall}, ${side.logical}, ${ctx.clientId(side.client)})`;
  const expectation = `the server's change ${stamp(server)} against the pushed ${stamp(pushed)}: the ${pushedWins ? "pushed" : "server's"} is the later (§10.1: wall time, then logical counter, then client id as bytes)`;
  const now = await stateOf(ctx, collection, id);
  if (pushedWins) {
    checkEqual(r.outcome.value.current?.document, '{"by":"pushed"}', expectation);
    checkEqual(now?.document, '{"by":"pushed"}', `${expectation}; a pull returns it`);
  } else {
    checkEqual(r.outcome.value.current?.revision, current.revision, expectation);
    checkEqual(now?.revision, current.revision, `${expectation}; nothing is written`);
  }
};

/** Base, the other client's change and the pushed change of the merge cases: every kind of key. */
const MERGE = {
  base: { a: 1, b: 1, c: 1, d: 1, e: 1 },
  // a changed, d removed, e changed, f added
  server: { a: 2, b: 1, c: 1, e: 5, f: 1 },
  // b changed, c removed, e changed, g added
  pushed: { a: 1, b: 3, d: 1, e: 6, g: 1 },
} as const;

/** The merge of MERGE, three-way (base known) or two-way, with the later side winning keys both changed (§7). */
function expectedMerge(threeWay: boolean, pushedLater: boolean): Record<string, number> {
  const later = pushedLater ? MERGE.pushed : MERGE.server;
  if (threeWay) return { a: 2, b: 3, e: later.e, f: 1, g: 1 };
  // Without a base: keys both sides have from the later side, keys one side has from it.
  return { a: later.a, b: later.b, c: 1, d: 1, e: later.e, f: 1, g: 1 };
}

const conflictMerge: ServerCheck = async (ctx, params) => {
  const pushedLater = params.later === "pushed";
  const collection = ctx.strategyCollection("merge");
  const id = ctx.doc("merge");
  const other = ctx.clientId("other");
  const base = accepted(await pushOne(ctx, insert(collection, id, MERGE.base, ctx.seq()), other));
  const server = accepted(await pushOne(ctx, update(collection, id, MERGE.server, base.revision, ctx.seq()), other));
  const change = update(collection, id, MERGE.pushed, base.revision, ctx.seq());
  if (!pushedLater) change.timestamp = create(HybridLogicalClockSchema, { wallTimeMs: 1_000n, logical: 0 }); // earlier than the other client's change
  const r = (await pushOne(ctx, change)).results[0]!;
  check(r.outcome.case === "resolved", `merge must answer resolved, got ${r.outcome.case}`);
  checkEqual(r.outcome.value.strategy, "merge", "resolved.strategy");
  const current = r.outcome.value.current;
  check(current, "resolved without current");
  const merged = JSON.parse(current.document) as Record<string, unknown>;
  const threeWay = expectedMerge(true, pushedLater);
  const twoWay = expectedMerge(false, pushedLater);
  const described = `base ${JSON.stringify(MERGE.base)}, the other client's ${JSON.stringify(MERGE.server)}, the pushed ${JSON.stringify(MERGE.pushed)} (the ${pushedLater ? "pushed" : "other"} one later)`;
  if (ctx.features.mergeThreeWay) {
    checkEqual(merged, threeWay, `the three-way merge the server declares (§7) of ${described}`);
  } else {
    check(
      stringify(merged) === stringify(threeWay) || stringify(merged) === stringify(twoWay),
      `merge of ${described}: expected the three-way merge ${stringify(threeWay)} or, without the base, ${stringify(twoWay)} (§7), got ${stringify(merged)}`,
    );
  }
  check(current.revision !== server.revision, "the merge is a new change (§7.3)");
  checkEqual((await stateOf(ctx, collection, id))?.revision, current.revision, "a pull returns the merged document (§7.3)");
};

const noConflictAccepted: ServerCheck = async (ctx, params) => {
  const strategy = String(params.strategy) as Strategy;
  const collection = ctx.strategyCollection(strategy);
  const id = ctx.doc(`clean-${strategy}`);
  const a = accepted(await pushOne(ctx, insert(collection, id, { v: 1 }, ctx.seq())));
  const b = accepted(await pushOne(ctx, update(collection, id, { v: 2 }, a.revision, ctx.seq())));
  accepted(await pushOne(ctx, remove(collection, id, b.revision, ctx.seq())));
};

/**
 * Two inserts of one document (the pushed one with the empty base, §6.2)
 * meet on a merge collection: there is no base, so the merge is two-way:
 * a key both have takes the later value, a key only one side has keeps it.
 */
const conflictMergeWithoutBase: ServerCheck = async (ctx) => {
  const collection = ctx.strategyCollection("merge");
  const id = ctx.doc("twice");
  accepted(await pushOne(ctx, insert(collection, id, { a: 1, s: 1 }, ctx.seq()), ctx.clientId("other")));
  const r = (await pushOne(ctx, insert(collection, id, { a: 2, c: 1 }, ctx.seq()))).results[0]!;
  check(r.outcome.case === "resolved", `merge must answer resolved, got ${r.outcome.case}`);
  checkEqual(
    JSON.parse(r.outcome.value.current?.document ?? "null") as unknown,
    { a: 2, s: 1, c: 1 },
    "two inserts merged without a base (§7): a from the later (pushed) insert, s and c each kept from the one side that has it",
  );
};

export const checks: Record<string, ServerCheck> = {
  "conflict-report": conflictReport,
  "conflict-insert-existing": conflictInsertExisting,
  "conflict-unknown-base": conflictUnknownBase,
  "conflict-lww": conflictLww,
  "conflict-server-wins": conflictServerWins,
  "conflict-client-wins": conflictClientWins,
  "conflict-merge": conflictMerge,
  "conflict-merge-without-base": conflictMergeWithoutBase,
  "conflict-lww-stamps": conflictLwwStamps,
  "no-conflict-accepted": noConflictAccepted,
};
