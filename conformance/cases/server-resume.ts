// The named checks of conformance/cases/server-resume.yaml (suite resume), beside it by name.
import { Code } from "@connectrpc/connect";
import { accepted, checkpointWith, insertMany, pushOne, type ServerCheck } from "../src/server-check-helpers.js";
import { check, checkEqual, checkError, expectFailure, insert, pullAll, Skip, update } from "../src/wire.js";

const resumeOnlyNew: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  await insertMany(ctx, todos, 3, "old");
  const first = await pullAll(ctx.client(), [todos]);
  checkEqual(ctx.mine(first.changes).length, 3, "first pull");
  await insertMany(ctx, todos, 2, "new");
  const second = await pullAll(ctx.client(), [todos], first.checkpoint);
  checkEqual(ctx.mine(second.changes).map((c) => c.documentId), [ctx.doc("new0"), ctx.doc("new1")], "pull from the checkpoint returns only the new changes");
  const third = await pullAll(ctx.client(), [todos], second.checkpoint);
  checkEqual(ctx.mine(third.changes).length, 0, "pull again from the newest checkpoint");
};

const resumeChangedAgain: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const [a] = await insertMany(ctx, todos, 2, "d");
  const first = await pullAll(ctx.client(), [todos]);
  const u = accepted(await pushOne(ctx, update(todos, a!.id, { again: true }, a!.revision, ctx.seq())));
  const second = await pullAll(ctx.client(), [todos], first.checkpoint);
  const mine = ctx.mine(second.changes);
  checkEqual(mine.map((c) => c.documentId), [a!.id], "a document changed after the checkpoint comes again");
  checkEqual(mine[0]!.revision, u.revision, "with its new revision");
  check(mine[0]!.serverSequence > a!.serverSequence, "at a higher sequence");
};

const resumeAbsentCollection: ServerCheck = async (ctx) => {
  const a = ctx.collection("alpha");
  const b = ctx.collection("beta");
  if (a === b) throw new Skip("the server declares a single fixed collection");
  await insertMany(ctx, a, 2, "a");
  await insertMany(ctx, b, 2, "b");
  const onlyA = await pullAll(ctx.client(), [a]);
  check(onlyA.checkpoint, "no checkpoint");
  check(!(b in onlyA.checkpoint.collections) || onlyA.checkpoint.collections[b] === 0n || ctx.features.openCollections === false,
    `a pull of ${a} alone must not set a position for ${b}`);
  const both = await pullAll(ctx.client(), [a, b], onlyA.checkpoint);
  checkEqual(ctx.mine(both.changes).map((c) => c.documentId).sort(), [ctx.doc("b0"), ctx.doc("b1")], `${b} starts from the beginning`);
};

const epochMismatch: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  await pushOne(ctx, insert(todos, ctx.doc("e"), {}, ctx.seq()));
  const { checkpoint } = await pullAll(ctx.client(), [todos]);
  const foreign = checkpointWith(checkpoint, { epoch: `${checkpoint?.epoch ?? ""}-another-data-set` });
  const e = await expectFailure("pull with a checkpoint of another epoch", () => ctx.client().pull({ collections: [todos], checkpoint: foreign }));
  checkError(e, { code: Code.FailedPrecondition, reason: "ERROR_REASON_RESYNC_REQUIRED" }, "pull with another epoch");
  check((e.metadata.collections ?? "").split(",").includes(todos), `ErrorInfo metadata collections must name ${todos}, got "${e.metadata.collections ?? ""}"`);
  const s = await expectFailure("subscribe with a checkpoint of another epoch", async () => {
    for await (const m of ctx.client().subscribe({ collections: [todos], checkpoint: foreign })) { void m; return; }
  });
  checkError(s, { code: Code.FailedPrecondition, reason: "ERROR_REASON_RESYNC_REQUIRED" }, "subscribe with another epoch");
};

export const checks: Record<string, ServerCheck> = {
  "resume-only-new": resumeOnlyNew,
  "resume-changed-again": resumeChangedAgain,
  "resume-absent-collection": resumeAbsentCollection,
  "epoch-mismatch": epochMismatch,
};
