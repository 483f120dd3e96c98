// The named checks of conformance/cases/server-tombstones.yaml (suite tombstones), beside it by name.
import { Code } from "@connectrpc/connect";
import type { Checkpoint } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { accepted, insertMany, pushOne, type ServerCheck } from "../src/server-check-helpers.js";
import type { ServerContext } from "../src/server-context.js";
import { check, CheckFailure, checkEqual, checkError, eventually, expectFailure, insert, pullAll, remove, sleep, wireError } from "../src/wire.js";

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

/** Waits until `checkpoint` is refused with resync-required for `collection` (a tombstone above it was purged). */
async function refusedOnceIsPurged(ctx: ServerContext, collection: string, checkpoint: Checkpoint | undefined, what: string) {
  return eventually(what, async () => {
    try {
      await ctx.client().pull({ collections: [collection], checkpoint }, { signal: ctx.signal });
      return undefined;
    } catch (error) {
      const e = wireError(error);
      return e.reason === "ERROR_REASON_RESYNC_REQUIRED" ? e : undefined;
    }
  }, ctx.features.tombstonePurge!.retentionMs * 4 + 5000, 100);
}

/**
 * A pull from the beginning of a collection pages past a purged tombstone:
 * it began after the tombstone was written, so it holds nothing it deleted,
 * and must not be refused from its second page on (every client pulling a
 * collection larger than one page would resync for ever). A pull that had
 * already received a document whose tombstone is purged before the pull
 * reaches it must be refused (§8.3), and so must a pull paging from a
 * position above 0 once a tombstone above that position is purged.
 */
const fullPullPastPurgedTombstone: ServerCheck = async (ctx) => {
  ctx.require("tombstone-purge");
  const todos = ctx.collection("paging");
  const docs = await insertMany(ctx, todos, 6, "d");
  const gone = accepted(await pushOne(ctx, insert(todos, ctx.doc("gone"), {}, ctx.seq())));
  const before = await pullAll(ctx.client(), [todos]);
  accepted(await pushOne(ctx, remove(todos, ctx.doc("gone"), gone.revision, ctx.seq())));
  await refusedOnceIsPurged(ctx, todos, before.checkpoint, "the tombstone is purged");
  // From the beginning, two at a time.
  const fresh = await pullAll(ctx.client(), [todos], undefined, 2).catch((error: unknown) => {
    const e = wireError(error);
    throw new CheckFailure(`a pull from the beginning, two changes a page, after a tombstone above its first page was purged: ${e.codeName} ${e.reason ?? ""} (§8.3: it holds nothing the tombstone deleted)`);
  });
  checkEqual(ctx.mine(fresh.changes).map((c) => c.documentId), docs.map((d) => d.id), "the pull from the beginning, page by page, returns every live document");
  check(fresh.pages.length >= 3, "the scenario: the pull took several pages");
  // A chain that received d0 on its first page, then d0 is deleted and its tombstone purged.
  const first = await ctx.client().pull({ collections: [todos], limit: 2 }, { signal: ctx.signal });
  check(first.hasMore && ctx.mine(first.changes).some((c) => c.documentId === docs[0]!.id), "the scenario: the first page holds d0");
  const whole = await pullAll(ctx.client(), [todos]);
  accepted(await pushOne(ctx, remove(todos, docs[0]!.id, docs[0]!.revision, ctx.seq())));
  await refusedOnceIsPurged(ctx, todos, whole.checkpoint, "d0's tombstone is purged");
  const e = await expectFailure("the rest of a pull that received d0 before its tombstone was purged", () =>
    ctx.client().pull({ collections: [todos], checkpoint: first.checkpoint, limit: 2 }, { signal: ctx.signal }),
  );
  checkError(e, { code: Code.FailedPrecondition, reason: "ERROR_REASON_RESYNC_REQUIRED" }, "a pull that received a document whose tombstone was then purged (§8.3)");
  // A chain paging from a position above 0 holds documents from before its
  // first page: a tombstone above its position, purged while it pages, may
  // have deleted one of them (only a pull from the start is forgiven).
  const held = await pullAll(ctx.client(), [todos]);
  await insertMany(ctx, todos, 4, "e");
  accepted(await pushOne(ctx, remove(todos, docs[1]!.id, docs[1]!.revision, ctx.seq())));
  const resumed = await ctx.client().pull({ collections: [todos], checkpoint: held.checkpoint, limit: 2 }, { signal: ctx.signal });
  check(resumed.hasMore, "the scenario: the pull from the held checkpoint takes several pages");
  await refusedOnceIsPurged(ctx, todos, held.checkpoint, "d1's tombstone is purged");
  const again = await expectFailure("the rest of a pull from a non-zero position, after a tombstone above that position was purged", () =>
    ctx.client().pull({ collections: [todos], checkpoint: resumed.checkpoint, limit: 2 }, { signal: ctx.signal }),
  );
  checkError(again, { code: Code.FailedPrecondition, reason: "ERROR_REASON_RESYNC_REQUIRED" }, "a pull paging from a non-zero position past a purged tombstone (§8.3)");
};

export const checks: Record<string, ServerCheck> = {
  "full-pull-past-purged-tombstone": fullPullPastPurgedTombstone,
  "purge-resync-required": purgeResyncRequired,
};
