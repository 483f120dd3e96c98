// The named checks of conformance/cases/server-tombstones.yaml (suite tombstones), beside it by name.
import { Code } from "@connectrpc/connect";
import { accepted, insertMany, pushOne, type ServerCheck } from "../src/server-check-helpers.js";
import type { ServerContext } from "../src/server-context.js";
import { check, checkEqual, checkError, eventually, expectFailure, insert, pullAll, remove, sleep, wireError } from "../src/wire.js";

async function waitForPurge(ctx: ServerContext): Promise<void> {
  const t = ctx.features.tombstonePurge!;
  await sleep(t.retentionMs + 2 * t.purgeIntervalMs + 200);
}

const purgeResyncRequired: ServerCheck = async (ctx) => {
  ctx.require("tombstone-purge");
  const todos = ctx.collection("purged");
  const [keep, gone] = await insertMany(ctx, todos, 2, "d");
  const before = await pullAll(ctx.client(), [todos]);
  accepted(await pushOne(ctx, remove(todos, gone!.id, gone!.revision, ctx.seq())));
  await waitForPurge(ctx);
  const e = await eventually("the tombstone is purged and an old checkpoint refused", async () => {
    try {
      await ctx.client().pull({ collections: [todos], checkpoint: before.checkpoint });
      return undefined;
    } catch (error) {
      return wireError(error);
    }
  }, ctx.features.tombstonePurge!.retentionMs * 4 + 5000, 100);
  checkError(e, { code: Code.FailedPrecondition, reason: "ERROR_REASON_RESYNC_REQUIRED" }, "pull from before a purged tombstone (§8.3)");
  check((e.metadata.collections ?? "").split(",").includes(todos), `ErrorInfo metadata collections must name ${todos}, got "${e.metadata.collections ?? ""}"`);
  const s = await expectFailure("subscribe from before a purged tombstone", async () => {
    for await (const m of ctx.client().subscribe({ collections: [todos], checkpoint: before.checkpoint })) { void m; return; }
  });
  checkError(s, { code: Code.FailedPrecondition, reason: "ERROR_REASON_RESYNC_REQUIRED" }, "subscribe from before a purged tombstone");
  // A full pull works and no longer has the purged document.
  const fresh = await pullAll(ctx.client(), [todos]);
  checkEqual(ctx.mine(fresh.changes).map((c) => c.documentId), [keep!.id], "a full pull after the purge");
  // And a checkpoint after the purge resumes.
  await ctx.client().pull({ collections: [todos], checkpoint: fresh.checkpoint });
  // A purged document has the empty revision again (§6.2): an insert is accepted.
  accepted(await pushOne(ctx, insert(todos, gone!.id, { back: true }, ctx.seq())));
};

export const checks: Record<string, ServerCheck> = {
  "purge-resync-required": purgeResyncRequired,
};
