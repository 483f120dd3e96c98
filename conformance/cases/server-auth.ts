// The named checks of conformance/cases/server-auth.yaml (suite auth), beside it by name.
import { Code } from "@connectrpc/connect";
import type { ChangeEvent } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { accepted, type ServerCheck } from "../src/server-check-helpers.js";
import { check, checkEqual, checkError, expectFailure, insert, pullAll } from "../src/wire.js";

const authSubscribe: ServerCheck = async (ctx) => {
  ctx.require("auth");
  const todos = ctx.collection("todos");
  for (const token of ["none", "unknown", "raw", { authorization: "Basic dXNlcjpwYXNz" }] as const) {
    const e = await expectFailure(`subscribe with token ${JSON.stringify(token)}`, async () => {
      for await (const m of ctx.client({ token }).subscribe({ collections: [todos] })) { void m; return; }
    });
    checkError(e, { code: Code.Unauthenticated, reason: "ERROR_REASON_UNAUTHENTICATED" }, `subscribe with token ${JSON.stringify(token)}`);
  }
};

const authNothingWritten: ServerCheck = async (ctx) => {
  ctx.require("auth");
  const todos = ctx.collection("todos");
  const e = await expectFailure("push without a token", () => ctx.client({ token: "none" }).push({ clientId: ctx.clientId(), changes: [insert(todos, ctx.doc("x"), {}, ctx.seq())] }));
  checkError(e, { code: Code.Unauthenticated, reason: "ERROR_REASON_UNAUTHENTICATED" }, "push without a token");
  checkEqual(ctx.mine((await pullAll(ctx.client(), [todos])).changes).length, 0, "an unauthenticated push writes nothing (§13.1)");
};

const permissionRead: ServerCheck = async (ctx) => {
  ctx.require("token2-read");
  const forbidden = ctx.features.auth.token2CannotRead[0]!;
  const e = await expectFailure("pull of a forbidden collection", () => ctx.client({ token: "token2" }).pull({ collections: [forbidden] }));
  checkError(e, { code: Code.PermissionDenied, reason: "ERROR_REASON_PERMISSION_DENIED" }, "pull of a collection the principal may not read (§13.3)");
  const mixed = await expectFailure("pull of a readable and a forbidden collection", () =>
    ctx.client({ token: "token2" }).pull({ collections: [ctx.features.auth.token2Allowed!, forbidden] }),
  );
  checkError(mixed, { code: Code.PermissionDenied, reason: "ERROR_REASON_PERMISSION_DENIED" }, "pull including a forbidden collection");
  const s = await expectFailure("subscribe to a forbidden collection", async () => {
    for await (const m of ctx.client({ token: "token2" }).subscribe({ collections: [forbidden] })) { void m; return; }
  });
  checkError(s, { code: Code.PermissionDenied, reason: "ERROR_REASON_PERMISSION_DENIED" }, "subscribe to a collection the principal may not read");
};

const permissionWrite: ServerCheck = async (ctx) => {
  ctx.require("token2-write");
  const forbidden = ctx.features.auth.token2CannotWrite[0]!;
  const allowed = ctx.features.auth.token2Allowed!;
  const res = await ctx.client({ token: "token2" }).push({
    clientId: ctx.clientId("restricted"),
    changes: [insert(forbidden, ctx.doc("no"), {}, ctx.seq()), insert(allowed, ctx.doc("yes"), {}, ctx.seq())],
  });
  const r = res.results[0]!;
  check(r.outcome.case === "rejected", `a change the principal may not make must be rejected, got ${r.outcome.case}`);
  checkEqual(r.outcome.value.code, Code.PermissionDenied, "rejected.code");
  checkEqual(r.outcome.value.reason, "ERROR_REASON_PERMISSION_DENIED", "rejected.reason");
  accepted(res, 1);
  const readable = await ctx.client({ token: "token2" }).pull({ collections: [allowed] });
  check(ctx.mine(readable.changes).some((c) => c.documentId === ctx.doc("yes")), "the principal reads its own allowed collection");
  const pulled = ctx.mine((await pullAll(ctx.client(), [forbidden])).changes);
  check(!pulled.some((c) => c.documentId === ctx.doc("no")), "the rejected change was written");
};

const clientIdBinding: ServerCheck = async (ctx) => {
  ctx.require("token2");
  const shared = ctx.features.auth.token2Allowed!;
  const clientId = ctx.clientId("bound");
  const [one, two, three] = [ctx.seq(), ctx.seq(), ctx.seq()];
  const first = await ctx.client().push({ clientId, changes: [insert(shared, ctx.doc("one"), { n: 1 }, one), insert(shared, ctx.doc("two"), { n: 2 }, two)] });
  accepted(first, 0);
  accepted(first, 1);
  // The other principal under the same client id: refused whole, the same
  // way for a key the owner used with other content, with the same content,
  // and a key the owner never used.
  const attempts: Array<[string, ChangeEvent]> = [
    ["the owner's key with other content", insert(shared, ctx.doc("junk"), { junk: true }, one)],
    ["the owner's key with the same content", insert(shared, ctx.doc("two"), { n: 2 }, two)],
    ["a key the owner never used", insert(shared, ctx.doc("junk"), { junk: true }, three)],
  ];
  for (const [what, change] of attempts) {
    const e = await expectFailure(`another principal's push under a bound client id (${what})`, () => ctx.client({ token: "token2" }).push({ clientId, changes: [change] }));
    checkError(e, { code: Code.PermissionDenied, reason: "ERROR_REASON_PERMISSION_DENIED" }, `another principal's push under a bound client id, ${what} (§12.5)`);
  }
  const pulled = ctx.mine((await pullAll(ctx.client(), [shared])).changes).map((c) => c.documentId).sort();
  checkEqual(pulled, [ctx.doc("one"), ctx.doc("two")], "documents after the refused pushes (nothing written, §12.5)");
  // The owner carries on under its client id. (No replay is checked here: a
  // server may purge idempotency records as soon as its tombstone retention
  // allows, §12.4; the binding outlives them.)
  accepted(await ctx.client().push({ clientId, changes: [insert(shared, ctx.doc("three"), { n: 3 }, three)] }));
};

export const checks: Record<string, ServerCheck> = {
  "auth-subscribe": authSubscribe,
  "auth-nothing-written": authNothingWritten,
  "permission-read": permissionRead,
  "permission-write": permissionWrite,
  "client-id-binding": clientIdBinding,
};
