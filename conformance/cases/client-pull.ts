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
import { check, checkEqual, insert, stringify } from "../src/wire.js";

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

export const checks: Record<string, ClientCheck> = {
  "pull-receives": pullReceives,
  "pull-pagination": pullPagination,
  "pull-no-echo": pullNoEcho,
};
