// The named checks of conformance/cases/client-push.yaml (suite push), beside it by name.
import { Operation } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import {
  anHourAhead,
  checkDocument,
  type ClientCheck,
  compareStamps,
  json,
  pushesOf,
  serverDocs,
  serverState,
  serverWrite,
} from "../src/client-check-helpers.js";
import { check, checkEqual, stringify } from "../src/wire.js";

const pushInsert: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const client = await ctx.start();
  const id = ctx.doc("t1");
  const document = { title: "Café ☕", tags: ["a", "b"], nested: { n: 1.5, ok: true, none: null } };
  await client.write(todos, id, document);
  await client.syncUntilOk();
  const pushed = pushesOf(ctx, id);
  checkEqual(pushed.length, 1, "pushes of the new document");
  const { change } = pushed[0]!;
  const record = ctx.proxy.pushes[pushed[0]!.record]!;
  checkEqual(change.operation, Operation.INSERT, "operation of a new document");
  checkEqual(change.baseRevision, "", "base_revision of a new document (§6.2)");
  check(change.clientSequence > 0n, "client_sequence above 0");
  check(change.timestamp && change.timestamp.wallTimeMs > 0n, "a hybrid logical clock timestamp");
  checkEqual(record.clientId, client.info?.clientId, "the push carries the client id the client reported");
  const doc = json(change.document) as Record<string, unknown>;
  check(!("_id" in doc) && !("_rev" in doc) && !("_deleted" in doc), "reserved keys stripped before pushing (§3.3)");
  checkDocument(change.document, document, "the pushed document");
  checkDocument((await serverState(ctx, todos, id))?.document, document, "the server's document");
  const local = await client.readOne(todos, id);
  checkEqual(local?.revision, (await serverState(ctx, todos, id))?.revision, "the client keeps the accepted revision");
  checkEqual(local?.pending, false, "no longer pending after sync");
};

const pushUpdateDelete: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const client = await ctx.start();
  const id = ctx.doc("t1");
  await client.write(todos, id, { v: 1 });
  await client.syncUntilOk();
  const rev1 = (await serverState(ctx, todos, id))!.revision;
  await client.write(todos, id, { v: 2 });
  await client.syncUntilOk();
  const [, second] = pushesOf(ctx, id);
  check(second, "the update was not pushed");
  checkEqual(second.change.operation, Operation.UPDATE, "operation of an update");
  checkEqual(second.change.baseRevision, rev1, "base_revision is the revision last received (§6.2)");
  const rev2 = (await serverState(ctx, todos, id))!.revision;
  await client.delete(todos, id);
  await client.syncUntilOk();
  const third = pushesOf(ctx, id)[2];
  check(third, "the delete was not pushed");
  checkEqual(third.change.operation, Operation.DELETE, "operation of a delete");
  checkEqual(third.change.document, "", "a delete carries no document (§6.4)");
  checkEqual(third.change.baseRevision, rev2, "base_revision of the delete");
  checkEqual((await serverState(ctx, todos, id))?.deleted, true, "the server holds a tombstone");
  checkEqual(await client.readOne(todos, id), undefined, "the document is gone locally");
};

const pushSequences: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const client = await ctx.start();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 3; i++) await client.write(todos, ctx.doc(`d${round}-${i}`), { round, i });
    await client.syncUntilOk();
  }
  const sequences = ctx.proxy.pushes.flatMap((p) => p.changes.map((c) => c.clientSequence));
  checkEqual(sequences.length, 9, "changes pushed");
  checkEqual(new Set(sequences).size, 9, "client_sequence unique per change (§9.1)");
  const sorted = [...sequences].sort((a, b) => (a < b ? -1 : 1));
  checkEqual(sequences, sorted, "client_sequence increasing (§9.1, SHOULD)");
  checkEqual((await serverDocs(ctx, todos)).size, 9, "documents on the server");
};

const pushClockObserves: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const id = ctx.doc("skewed");
  const remote = anHourAhead(5);
  await serverWrite(ctx, todos, id, { v: 1 }, remote);
  const client = await ctx.start();
  await client.syncUntilOk();
  checkDocument((await client.readOne(todos, id))?.document, { v: 1 }, "the change stamped an hour ahead arrives");
  await client.write(todos, id, { v: 2 });
  await client.write(todos, ctx.doc("other"), { v: 1 });
  await client.syncUntilOk();
  for (const doc of [id, ctx.doc("other")]) {
    const pushed = pushesOf(ctx, doc)[0];
    check(pushed, `${doc} was not pushed`);
    const ts = pushed.change.timestamp;
    check(
      ts && compareStamps(ts, remote) > 0,
      `a write made after receiving a change stamped ${stringify(remote)} must be stamped later, whatever the wall clock says (§10.2); ${doc} was stamped ${stringify(ts)}`,
    );
  }
};

export const checks: Record<string, ClientCheck> = {
  "push-insert": pushInsert,
  "push-update-delete": pushUpdateDelete,
  "push-sequences": pushSequences,
  "push-clock-observes": pushClockObserves,
};
