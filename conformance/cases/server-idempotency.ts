// The named checks of conformance/cases/server-idempotency.yaml (suite idempotency), beside it by name.
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { HybridLogicalClockSchema, PushRequestSchema, type PushResponse } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { Strategy } from "../src/features.js";
import { accepted, describeOutcome, pushOne, type ServerCheck, setupConflict, stateOf } from "../src/server-check-helpers.js";
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

/**
 * Copies of one push that share a commit group: interleaved with pushes of
 * other clients and sent at once on one connection, so the server is busy
 * committing the others when the copies arrive and takes several of them in
 * one group (one batch of writes). A server that looks a key up only among
 * committed records, not among those its group already holds, applies the
 * second copy again: a Conflict, or a second change. Ten rounds.
 */
const idempotentCopiesInOneGroup: ServerCheck = async (ctx, params) => {
  const todos = ctx.collection("group");
  const others = ctx.collection("others");
  // One HTTP/2 connection carries them all at once, where the server offers it.
  const client = ctx.features.http2 ? ctx.client({ httpVersion: "2" }) : ctx.client();
  const rounds = Number(params.rounds ?? 10);
  const copies = Number(params.copies ?? 8);
  for (let round = 0; round < rounds; round++) {
    const request = create(PushRequestSchema, { clientId: ctx.clientId(`copies${round}`), changes: [insert(todos, ctx.doc(`r${round}`), { round }, 1n)] });
    const calls: Promise<PushResponse>[] = [];
    for (let i = 0; i < copies; i++) {
      calls.push(client.push({ clientId: ctx.clientId(`other${round}-${i}`), changes: [insert(others, ctx.doc(`o${round}-${i}`), { i }, 1n)] }, { signal: ctx.signal }));
      calls.push(client.push(request, { signal: ctx.signal }));
    }
    const responses = await Promise.all(calls);
    const outcomes = responses.map((r, i) => {
      const what = i % 2 === 0 ? `another client's push ${i / 2}` : `copy ${(i - 1) / 2}`;
      const result = r.results[0];
      check(result?.outcome.case === "accepted", `round ${round}: ${what}: expected accepted, got ${result?.outcome.case} ${describeOutcome(result?.outcome.value)} (§12.2)`);
      return result.outcome.value;
    });
    const mine = outcomes.filter((_, i) => i % 2 === 1);
    for (const o of mine) checkEqual(o, mine[0], `round ${round}: copies of one push sent together get the one recorded result (§12.2)`);
  }
  const pulled = ctx.mine((await pullAll(ctx.client(), [todos])).changes);
  checkEqual(pulled.map((c) => c.documentId), Array.from({ length: rounds }, (_, r) => ctx.doc(`r${r}`)), "each pushed document once");
  for (const c of pulled) checkEqual(c.revision.length > 0, true, "revision");
};

/**
 * §12.3 for Resolved: a conflict settled by keeping the server's state wrote
 * nothing, so it is not recorded, and the same key pushed again with the
 * same document on the current revision is evaluated afresh (Accepted).
 */
const idempotencyKeptNotRecorded: ServerCheck = async (ctx, params) => {
  const strategy = String(params.strategy) as Strategy;
  const s = await setupConflict(ctx, strategy);
  const sequence = ctx.seq();
  const stale = update(s.collection, s.id, { a: 1, b: 3, c: 1 }, s.base.revision, sequence);
  if (strategy === "last-write-wins") stale.timestamp = create(HybridLogicalClockSchema, { wallTimeMs: 1_000n, logical: 0 }); // earlier: the server's state wins
  const r1 = (await pushOne(ctx, stale)).results[0]!;
  check(r1.outcome.case === "resolved", `${strategy}: expected resolved, got ${r1.outcome.case}`);
  checkEqual(r1.outcome.value.current?.revision, s.server.revision, `${strategy}: the server's state is kept`);
  const again = update(s.collection, s.id, { a: 1, b: 3, c: 1 }, s.server.revision, sequence);
  const r2 = (await pushOne(ctx, again)).results[0]!;
  check(
    r2.outcome.case === "accepted",
    `the same key and document on the current revision must be evaluated afresh and accepted: a Resolved that kept the server's state wrote nothing and is not recorded (§12.3); got ${r2.outcome.case} ${describeOutcome(r2.outcome.value)}`,
  );
  checkEqual((await stateOf(ctx, s.collection, s.id))?.document, '{"a":1,"b":3,"c":1}', "the retried change is written");
};

/** A conflict settled by writing (client-wins, merge) is recorded: its retry answers the same Resolved and writes nothing (§12.1, §12.2). */
const idempotencyResolvedReplayed: ServerCheck = async (ctx, params) => {
  const strategy = String(params.strategy) as Strategy;
  const s = await setupConflict(ctx, strategy);
  const request = create(PushRequestSchema, { clientId: ctx.clientId(), changes: [update(s.collection, s.id, { a: 1, b: 3, c: 1 }, s.base.revision, ctx.seq())] });
  const first = (await ctx.client().push(request)).results[0]!;
  check(first.outcome.case === "resolved", `${strategy}: expected resolved, got ${first.outcome.case}`);
  const written = first.outcome.value.current;
  check(written && written.revision !== s.server.revision, `${strategy}: the resolution is written (§7.3)`);
  const again = (await ctx.client().push(request)).results[0]!;
  check(again.outcome.case === "resolved", `a retry of a change answered Resolved must answer the recorded Resolved (§12.2), got ${again.outcome.case} ${describeOutcome(again.outcome.value)}`);
  checkEqual(again.outcome.value.current?.revision, written.revision, "the retry's Resolved.current is the recorded one");
  checkEqual(again.outcome.value.current?.serverSequence, written.serverSequence, "at the recorded sequence");
  const now = await stateOf(ctx, s.collection, s.id);
  checkEqual(now?.revision, written.revision, "the retry wrote nothing");
};

export const checks: Record<string, ServerCheck> = {
  "idempotent-copies-in-one-group": idempotentCopiesInOneGroup,
  "idempotency-kept-not-recorded": idempotencyKeptNotRecorded,
  "idempotency-resolved-replayed": idempotencyResolvedReplayed,
  "idempotent-retry": idempotentRetry,
  "idempotent-concurrent-retry": idempotentConcurrentRetry,
  "idempotent-batch-partial": idempotentBatchPartial,
  "idempotency-mismatch": idempotencyMismatch,
  "idempotency-conflict-not-recorded": idempotencyConflictNotRecorded,
};
