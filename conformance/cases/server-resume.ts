// The named checks of conformance/cases/server-resume.yaml (suite resume), beside it by name.
import { Code } from "@connectrpc/connect";
import type { ChangeEvent, Checkpoint } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { accepted, checkpointWith, insertMany, pushOne, type ServerCheck } from "../src/server-check-helpers.js";
import { check, checkEqual, checkError, expectFailure, insert, pullAll, Skip, update } from "../src/wire.js";

/**
 * The case makes its own traffic in a second collection before, between and
 * after its pulls, so what it checks does not depend on what other cases
 * happen to commit: exactly the new changes come back, and the position
 * without has_more is the high-water mark read by the pull, above the
 * commits to other collections acknowledged before it (§4.5).
 */
const resumeOnlyNew: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const elsewhere = ctx.collection("elsewhere");
  if (todos === elsewhere) throw new Skip("the server declares a single fixed collection");
  const ids = (changes: readonly ChangeEvent[]) => ctx.mine(changes).map((c) => `${c.documentId}@${c.serverSequence}`);
  const position = (cp: Checkpoint | undefined) => cp?.collections[todos] ?? 0n;
  const old = await insertMany(ctx, todos, 3, "old");
  const before = (await insertMany(ctx, elsewhere, 2, "noise-a")).at(-1)!.serverSequence;
  const first = await pullAll(ctx.client(), [todos]);
  checkEqual(ids(first.changes), old.map((o) => `${o.id}@${o.serverSequence}`), "the first pull returns every document");
  check(first.checkpoint, "pull: no checkpoint");
  checkEqual(position(first.checkpoint), first.checkpoint.serverSequence, "without has_more the position is the high-water mark (§4.5)");
  check(
    position(first.checkpoint) >= before,
    `the position ${position(first.checkpoint)} is below ${before}, a commit to another collection acknowledged before the pull: without has_more the position is the high-water mark read by the pull, not the collection's last change (§4.5)`,
  );
  await insertMany(ctx, elsewhere, 2, "noise-b");
  const fresh = await insertMany(ctx, todos, 2, "new");
  const after = (await insertMany(ctx, elsewhere, 2, "noise-c")).at(-1)!.serverSequence;
  const second = await pullAll(ctx.client(), [todos], first.checkpoint);
  checkEqual(ids(second.changes), fresh.map((f) => `${f.id}@${f.serverSequence}`), "a pull from the checkpoint returns exactly the changes committed after it (§4.5)");
  check(position(second.checkpoint) >= after, `the second position ${position(second.checkpoint)} is below ${after}, a commit acknowledged before the pull (§4.5)`);
  const third = await pullAll(ctx.client(), [todos], second.checkpoint);
  checkEqual(ids(third.changes), [], "a pull from the newest checkpoint returns nothing");
  check(position(third.checkpoint) >= position(second.checkpoint), "positions never go back");
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
