// The named checks of conformance/cases/client-pull.yaml (suite pull), beside it by name.
import { equals } from "@bufbuild/protobuf";
import { type Checkpoint, CheckpointSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import {
  checkDocument,
  type ClientCheck,
  clientView,
  isEmptyCheckpoint,
  pushesOf,
  serverDelete,
  serverState,
  serverWrite,
} from "../src/client-check-helpers.js";
import { ConflictStrategy, SyncMode } from "../src/control.js";
import { check, checkEqual, eventually, insert, sleep, stringify } from "../src/wire.js";

const pullReceives: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const docs = { [ctx.doc("a")]: { t: "é ☕ 🛒" }, [ctx.doc("b")]: { n: [1, 2, { x: null }] }, [ctx.doc("c")]: { big: 12345678901234 } };
  for (const [id, d] of Object.entries(docs)) await serverWrite(ctx, todos, id, d);
  const client = await ctx.start();
  await client.syncUntilOk();
  checkEqual(Object.fromEntries(await clientView(client, todos)), docs, "the client has the server's documents");
  for (const d of await client.read(todos)) {
    checkEqual(d.revision, (await serverState(ctx, todos, d.documentId))?.revision, `revision of ${d.documentId}`);
  }
  // Updates and deletes by others arrive too.
  await serverWrite(ctx, todos, ctx.doc("a"), { t: "changed" });
  await serverDelete(ctx, todos, ctx.doc("b"));
  await client.syncUntilOk();
  checkDocument((await client.readOne(todos, ctx.doc("a")))?.document, { t: "changed" }, "an update by another user");
  checkEqual(await client.readOne(todos, ctx.doc("b")), undefined, "a delete by another user (§8.1)");
};

const pullPagination: ClientCheck = async (ctx, params) => {
  const n = Number(params.documents ?? 1100);
  const todos = ctx.collection();
  for (let start = 0; start < n; start += 500) {
    const changes = Array.from({ length: Math.min(500, n - start) }, (_, k) => insert(todos, ctx.doc(`p${start + k}`), { i: start + k }, ctx.nextRunnerSequence()));
    await ctx.direct.push({ clientId: ctx.runnerId, changes });
  }
  const client = await ctx.start();
  await client.syncUntilOk();
  checkEqual((await clientView(client, todos)).size, n, "documents after following has_more (§4.7)");
  const pulls = ctx.proxy.pulls.filter((p) => p.collections.includes(todos));
  check(pulls.length >= 2, "the client pulled more than one page");
  // A client may run more than one puller (a background poll beside sync_now),
  // so pulls are not paired by arrival order: every pull starts from the empty
  // checkpoint or from one an earlier response carried, byte for byte, and the
  // client does follow has_more from a page's checkpoint.
  const sentEarlier = (i: number, cp: Checkpoint, hasMore: boolean) =>
    pulls.slice(0, i).some((q) => q.response?.checkpoint && (!hasMore || q.response.hasMore) && equals(CheckpointSchema, q.response.checkpoint, cp));
  pulls.forEach((p, i) => {
    if (isEmptyCheckpoint(p.checkpoint)) return;
    check(sentEarlier(i, p.checkpoint!, false), `each page is pulled from a checkpoint the server sent, unchanged (§4.4): ${stringify(p.checkpoint)}`);
  });
  check(
    pulls.some((p, i) => !isEmptyCheckpoint(p.checkpoint) && sentEarlier(i, p.checkpoint!, true)),
    "the client follows has_more: it pulls the next page from a has_more page's checkpoint (§4.7)",
  );
};

const pullNoEcho: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  await serverWrite(ctx, todos, ctx.doc("theirs"), { by: "runner" });
  const client = await ctx.start();
  await client.syncUntilOk();
  await client.write(todos, ctx.doc("mine"), { by: "client" });
  await client.syncUntilOk();
  await serverWrite(ctx, todos, ctx.doc("theirs"), { by: "runner", v: 2 });
  await client.syncUntilOk();
  await client.syncUntilOk();
  const echoed = pushesOf(ctx, ctx.doc("theirs"));
  checkEqual(echoed.length, 0, "changes received from the server are never pushed back (§9.3)");
  checkEqual(pushesOf(ctx, ctx.doc("mine")).length, 1, "the client's own change is pushed once");
  checkEqual((await client.status()).pendingChanges, 0, "nothing pending");
};

/**
 * §9.5: a change from the server reaches a document with a pending local
 * change (here on the live stream, while the client cannot push). The client
 * keeps its local state and the base revision it had, so its push conflicts
 * and the conflict is settled by its strategy; a client that takes the
 * pulled revision as its new base silently overwrites the other user's
 * change, one that takes the pulled document loses its own.
 */
const pullMeetsPending: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const id = ctx.doc("p");
  const first = await serverWrite(ctx, todos, id, { v: 1 });
  const client = await ctx.start({ syncMode: SyncMode.SUBSCRIBE, conflictStrategy: ConflictStrategy.LOCAL_WINS });
  await client.syncUntilOk();
  checkDocument((await client.readOne(todos, id))?.document, { v: 1 }, "the client has the first version");
  // Pushes fail from now on; the stream keeps working.
  ctx.proxy.inject("push", { kind: "unavailable" }, 1000);
  await client.write(todos, id, { v: "local" });
  const second = await serverWrite(ctx, todos, id, { v: 2 });
  await eventually(
    "the other user's change reaches the client on its stream",
    async () => (ctx.proxy.subscribes.some((s) => s.delivered.some((d) => d.documentId === id && d.revision === second.revision)) ? true : undefined),
    15_000,
  );
  await sleep(300);
  const during = await client.readOne(todos, id);
  checkDocument(during?.document, { v: "local" }, "a pulled change does not replace a document with a pending local change (§9.5)");
  checkEqual(during?.pending, true, "the local change is still pending");
  ctx.proxy.clearFaults();
  await client.syncUntilOk();
  const answered = pushesOf(ctx, id).filter((p) => ctx.proxy.pushes[p.record]!.results);
  check(answered.length > 0, "the local change was never pushed");
  const push = answered[0]!;
  const result = ctx.proxy.pushes[push.record]!.results![ctx.proxy.pushes[push.record]!.changes.indexOf(push.change)];
  checkEqual(
    push.change.baseRevision,
    first.revision,
    "the pushed change keeps the base revision it had before the pulled change arrived (§9.5), so the server sees the conflict",
  );
  checkEqual(result?.outcome.case, "conflict", "the server answers the push with Conflict (§6.3)");
  checkDocument((await serverState(ctx, todos, id))?.document, { v: "local" }, "LOCAL_WINS settles the conflict with the local document (§7.1)");
  const local = await client.readOne(todos, id);
  checkDocument(local?.document, { v: "local" }, "the client keeps its document");
  checkEqual(local?.pending, false, "nothing pending");
};

export const checks: Record<string, ClientCheck> = {
  "pull-meets-pending": pullMeetsPending,
  "pull-receives": pullReceives,
  "pull-pagination": pullPagination,
  "pull-no-echo": pullNoEcho,
};
