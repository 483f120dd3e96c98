// The named checks of conformance/cases/server-conflict.yaml (suite conflict), beside it by name.
import { create } from "@bufbuild/protobuf";
import { ChangeEventSchema, HybridLogicalClockSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { Strategy } from "../src/features.js";
import { accepted, pushOne, type ServerCheck, setupConflict, stateOf } from "../src/server-check-helpers.js";
import { check, checkEqual, insert, remove, update } from "../src/wire.js";

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

const conflictMerge: ServerCheck = async (ctx) => {
  const collection = ctx.strategyCollection("merge");
  const id = ctx.doc("merge");
  const base = accepted(await pushOne(ctx, insert(collection, id, { a: 1, b: 1 }, ctx.seq()), ctx.clientId("other")));
  // Another client changes a and adds s; this client, later, changes b and adds c.
  const server = accepted(await pushOne(ctx, update(collection, id, { a: 2, b: 1, s: 1 }, base.revision, ctx.seq()), ctx.clientId("other")));
  const r = (await pushOne(ctx, update(collection, id, { a: 1, b: 3, c: 9 }, base.revision, ctx.seq()))).results[0]!;
  check(r.outcome.case === "resolved", `merge must answer resolved, got ${r.outcome.case}`);
  checkEqual(r.outcome.value.strategy, "merge", "resolved.strategy");
  const current = r.outcome.value.current;
  check(current, "resolved without current");
  const merged = JSON.parse(current.document) as Record<string, unknown>;
  // Whether or not the server knows the base document, the client's later
  // change to b wins, and keys only one side has survive. Key a is 2 when the
  // server knows the base (the client did not change it), else the later (1).
  checkEqual(merged.b, 3, "merge: the key the client changed (b)");
  checkEqual(merged.s, 1, "merge: the key only the server has (s)");
  checkEqual(merged.c, 9, "merge: the key only the client has (c)");
  check(merged.a === 1 || merged.a === 2, `merge: key a must be 2 (base known) or 1 (later timestamp), got ${JSON.stringify(merged.a)}`);
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

export const checks: Record<string, ServerCheck> = {
  "conflict-report": conflictReport,
  "conflict-insert-existing": conflictInsertExisting,
  "conflict-unknown-base": conflictUnknownBase,
  "conflict-lww": conflictLww,
  "conflict-server-wins": conflictServerWins,
  "conflict-client-wins": conflictClientWins,
  "conflict-merge": conflictMerge,
  "no-conflict-accepted": noConflictAccepted,
};
