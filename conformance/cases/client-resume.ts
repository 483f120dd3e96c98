// The named checks of conformance/cases/client-resume.yaml (suite resume), beside it by name.
import { equals } from "@bufbuild/protobuf";
import { CheckpointSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { checkDocument, type ClientCheck, clientView, isEmptyCheckpoint, serverState, serverWrite } from "../src/client-check-helpers.js";
import { CrashPoint } from "../src/control.js";
import { check, checkEqual, eventually, stringify } from "../src/wire.js";

const resumeCheckpoint: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  await serverWrite(ctx, todos, ctx.doc("a"), { v: 1 });
  let client = await ctx.start();
  await client.syncUntilOk();
  const served = ctx.proxy.pulls.filter((p) => p.response).at(-1)?.response?.checkpoint;
  check(served, "the client pulled nothing");
  const status = await client.status();
  check(status.checkpoint && equals(CheckpointSchema, status.checkpoint, served), `the client stores the checkpoint as received (§4.4): got ${stringify(status.checkpoint)}, served ${stringify(served)}`);
  await client.shutdown();
  await serverWrite(ctx, todos, ctx.doc("b"), { v: 1 });
  const before = ctx.proxy.pulls.length;
  client = await ctx.start();
  await client.syncUntilOk();
  const first = ctx.proxy.pulls[before];
  check(first, "the restarted client did not pull");
  check(first.checkpoint && equals(CheckpointSchema, first.checkpoint, served), `the restarted client resumes from its stored checkpoint (§9.4): sent ${stringify(first.checkpoint)}, expected ${stringify(served)}`);
  checkEqual([...(await clientView(client, todos)).keys()].sort(), [ctx.doc("a"), ctx.doc("b")], "documents after the restart");
};

const resumeCrash: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  await serverWrite(ctx, todos, ctx.doc("a"), { v: 1 });
  let client = await ctx.start();
  await client.syncUntilOk();
  await client.kill();
  await serverWrite(ctx, todos, ctx.doc("b"), { v: 1 });
  const before = ctx.proxy.pulls.length;
  client = await ctx.start();
  await client.syncUntilOk();
  const first = ctx.proxy.pulls[before];
  check(first && !isEmptyCheckpoint(first.checkpoint), "after kill -9 the client resumes from a stored checkpoint, not from the beginning (§9.4)");
  checkEqual([...(await clientView(client, todos)).keys()].sort(), [ctx.doc("a"), ctx.doc("b")], "documents after the crash");
};

const resumeOutbox: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  let client = await ctx.start({ startOffline: true });
  await client.write(todos, ctx.doc("offline"), { v: 1 });
  const id1 = client.info?.clientId;
  await client.shutdown();
  checkEqual(ctx.proxy.pushes.length, 0, "an offline client pushes nothing");
  client = await ctx.start({ startOffline: true });
  checkEqual(client.info?.clientId, id1, "the client id is stable for the life of the local database (§9.1)");
  checkEqual((await client.status()).pendingChanges, 1, "the outbox survives a restart (§9.2)");
  await client.setOnline(true);
  await client.syncUntilOk();
  checkDocument((await serverState(ctx, todos, ctx.doc("offline")))?.document, { v: 1 }, "the pending change is pushed after the restart");
  checkEqual(ctx.proxy.pushes[0]?.clientId, id1, "pushed with the stable client id");
};

/**
 * The client dies (as under kill -9) right after the first durable write of
 * a pulled page: a client that stores the page atomically, or its changes
 * before its checkpoint, pulls what it lacks again after the restart; one
 * that stores the checkpoint first has moved past changes it never stored.
 */
const resumeCrashWhileStoring: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const ids = ["a", "b", "c"].map((n) => ctx.doc(n));
  for (const id of ids) await serverWrite(ctx, todos, id, { id });
  let client = await ctx.start({ startOffline: true });
  await client.armCrash(CrashPoint.AFTER_FIRST_WRITE_OF_PAGE);
  // Online and syncing: it dies storing the first page, whichever call reaches it.
  await client.setOnline(true).catch(() => undefined);
  await client.syncNow().catch(() => undefined);
  await eventually("the client dies at the armed point (storing its first pulled page)", async () => (client.exitReason ? true : undefined), 15_000, 50);
  const answered = ctx.proxy.pulls.filter((p) => p.response && p.response.changes > 0);
  check(answered.length > 0, "the scenario did not happen: no pull brought the documents before the client died");
  client = await ctx.start();
  await client.syncUntilOk();
  checkEqual(
    [...(await clientView(client, todos)).keys()].sort(),
    [...ids].sort(),
    "after dying while storing a page and restarting, the client has every document of it: a checkpoint is stored only after its changes (§9.4)",
  );
};

/**
 * Pages without changes move the checkpoint too (other collections' commits
 * raise the high-water mark; documents the principal may not read are
 * skipped): the client stores their checkpoint as received and resumes from
 * it, so it does not read the same range again after every restart.
 */
const resumeEmptyPageCheckpoint: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const elsewhere = ctx.collection("elsewhere");
  await serverWrite(ctx, todos, ctx.doc("a"), { v: 1 });
  let client = await ctx.start();
  await client.syncUntilOk();
  const before = (await client.status()).checkpoint;
  // Commits the client does not follow, and a change to its collection the proxy hides from it.
  await serverWrite(ctx, elsewhere, ctx.doc("x"), { v: 1 });
  ctx.proxy.hiddenDocuments.add(ctx.doc("hidden"));
  await serverWrite(ctx, todos, ctx.doc("hidden"), { v: 1 });
  await client.syncUntilOk();
  const last = ctx.proxy.pulls.filter((p) => p.response && p.collections.includes(todos)).at(-1);
  check(last?.response?.checkpoint, "the client did not pull");
  checkEqual(last.response.changes, 0, "the scenario: the last page holds no change");
  check(before && !equals(CheckpointSchema, before, last.response.checkpoint), "the scenario: the empty page's checkpoint moved on");
  const stored = (await client.status()).checkpoint;
  check(
    stored && equals(CheckpointSchema, stored, last.response.checkpoint),
    `the client stores the checkpoint of a page without changes, as received (§4.4, §9.4): stored ${stringify(stored)}, served ${stringify(last.response.checkpoint)}`,
  );
  await client.shutdown();
  const pulls = ctx.proxy.pulls.length;
  client = await ctx.start();
  await client.syncUntilOk();
  const first = ctx.proxy.pulls[pulls];
  check(first?.checkpoint && equals(CheckpointSchema, first.checkpoint, last.response.checkpoint), `after a restart the client resumes from the empty page's checkpoint: sent ${stringify(first?.checkpoint)}`);
};

export const checks: Record<string, ClientCheck> = {
  "resume-crash-while-storing": resumeCrashWhileStoring,
  "resume-empty-page-checkpoint": resumeEmptyPageCheckpoint,
  "resume-checkpoint": resumeCheckpoint,
  "resume-crash": resumeCrash,
  "resume-outbox": resumeOutbox,
};
