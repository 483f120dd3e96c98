// The named checks of conformance/cases/server-idempotency.yaml (suite idempotency), beside it by name.
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { PushRequestSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { accepted, pushOne, type ServerCheck, setupConflict } from "../src/server-check-helpers.js";
import { check, checkEqual, insert, pullAll, update } from "../src/wire.js";

const idempotentRetry: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const change = insert(todos, ctx.doc("once"), { n: 1 }, ctx.seq());
  const request = create(PushRequestSchema, { clientId: ctx.clientId(), changes: [change] });
  const first = accepted(await ctx.client().push(request));
  const second = accepted(await ctx.client().push(request));
  checkEqual(second, first, "a retried push returns the recorded result (§12.2)");
  const pulled = ctx.mine((await pullAll(ctx.client(), [todos])).changes);
  checkEqual(pulled.length, 1, "one document");
  checkEqual(pulled[0]!.serverSequence, first.serverSequence, "the retry wrote nothing new");
  // An update retried after another change in between returns the original result.
  const u = create(PushRequestSchema, { clientId: ctx.clientId(), changes: [update(todos, ctx.doc("once"), { n: 2 }, first.revision, ctx.seq())] });
  const u1 = accepted(await ctx.client().push(u));
  await pushOne(ctx, insert(todos, ctx.doc("between"), {}, ctx.seq()));
  const u2 = accepted(await ctx.client().push(u));
  checkEqual(u2, u1, "a retried update returns its recorded result, not a conflict");
};

const idempotentConcurrentRetry: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const request = create(PushRequestSchema, { clientId: ctx.clientId(), changes: [insert(todos, ctx.doc("race"), { n: 1 }, ctx.seq())] });
  const results = await Promise.all(Array.from({ length: 5 }, () => ctx.client().push(request)));
  const outcomes = results.map((r) => accepted(r));
  for (const o of outcomes) checkEqual(o, outcomes[0], "concurrent copies of one push get the same result");
  const pulled = ctx.mine((await pullAll(ctx.client(), [todos])).changes);
  checkEqual(pulled.map((c) => c.serverSequence), [outcomes[0]!.serverSequence], "applied once");
};

const idempotentBatchPartial: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const a = insert(todos, ctx.doc("a"), { n: 1 }, ctx.seq());
  const first = accepted(await ctx.client().push({ clientId: ctx.clientId(), changes: [a] }));
  const b = insert(todos, ctx.doc("b"), { n: 1 }, ctx.seq());
  const res = await ctx.client().push({ clientId: ctx.clientId(), changes: [a, b] });
  checkEqual(accepted(res, 0), first, "the recorded change in a larger retry returns its recorded result");
  accepted(res, 1);
  checkEqual(ctx.mine((await pullAll(ctx.client(), [todos])).changes).length, 2, "two documents");
};

const idempotencyMismatch: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const sequence = ctx.seq();
  accepted(await pushOne(ctx, insert(todos, ctx.doc("m"), { n: 1 }, sequence)));
  const res = await pushOne(ctx, insert(todos, ctx.doc("m"), { n: 2 }, sequence));
  const r = res.results[0]!;
  check(r.outcome.case === "rejected", `the same key with another document must be rejected, got ${r.outcome.case}`);
  checkEqual(r.outcome.value.reason, "ERROR_REASON_IDEMPOTENCY_MISMATCH", "rejected.reason");
  checkEqual(r.outcome.value.code, Code.InvalidArgument, "rejected.code");
  const other = await pushOne(ctx, insert(todos, ctx.doc("m-other"), { n: 1 }, sequence));
  const o = other.results[0]!;
  check(o.outcome.case === "rejected" && o.outcome.value.reason === "ERROR_REASON_IDEMPOTENCY_MISMATCH", `the same key for another document must be rejected with ERROR_REASON_IDEMPOTENCY_MISMATCH, got ${o.outcome.case}`);
};

const idempotencyConflictNotRecorded: ServerCheck = async (ctx) => {
  const s = await setupConflict(ctx, "report");
  const sequence = ctx.seq();
  const r1 = (await pushOne(ctx, update(s.collection, s.id, { a: 1, b: 3, c: 1 }, s.base.revision, sequence))).results[0]!;
  check(r1.outcome.case === "conflict", `expected conflict, got ${r1.outcome.case}`);
  // A conflict wrote nothing, so it is not recorded (§12.3): the same key,
  // now on the current revision, is evaluated afresh and accepted.
  const res = await pushOne(ctx, update(s.collection, s.id, { a: 2, b: 3, c: 1 }, s.server.revision, sequence));
  accepted(res);
};

export const checks: Record<string, ServerCheck> = {
  "idempotent-retry": idempotentRetry,
  "idempotent-concurrent-retry": idempotentConcurrentRetry,
  "idempotent-batch-partial": idempotentBatchPartial,
  "idempotency-mismatch": idempotencyMismatch,
  "idempotency-conflict-not-recorded": idempotencyConflictNotRecorded,
};
