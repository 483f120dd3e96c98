// The named checks of conformance/cases/client-resume.yaml (suite resume), beside it by name.
import { equals } from "@bufbuild/protobuf";
import { CheckpointSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { checkDocument, type ClientCheck, clientView, isEmptyCheckpoint, serverState, serverWrite } from "../src/client-check-helpers.js";
import { check, checkEqual, stringify } from "../src/wire.js";

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

export const checks: Record<string, ClientCheck> = {
  "resume-checkpoint": resumeCheckpoint,
  "resume-crash": resumeCrash,
  "resume-outbox": resumeOutbox,
};
