// The named checks of conformance/cases/client-conflict-report.yaml (suite conflict-report), beside it by name.
import { ConflictStrategy } from "../src/control.js";
import {
  anHourAhead,
  checkConverged,
  checkDocument,
  type ClientCheck,
  conflictedPush,
  conflictScene,
  pushesOf,
  serverState,
} from "../src/client-check-helpers.js";
import { check, checkEqual } from "../src/wire.js";

/**
 * LOCAL_WINS keeps the local document even though the other user's write is
 * the later one (its clock runs an hour ahead): a client that settles every
 * conflict by last-write-wins adopts the remote document and fails.
 */
const conflictLocalWins: ClientCheck = async (ctx) => {
  const s = await conflictScene(ctx, ctx.collection(), ConflictStrategy.LOCAL_WINS, { remoteAt: anHourAhead() });
  const first = conflictedPush(ctx, s, "conflict");
  const attempts = pushesOf(ctx, s.id).slice(s.before);
  const resolution = attempts[1];
  check(resolution, "after Conflict, a local-wins client pushes its document again (§7.1)");
  const server = await serverState(ctx, s.collection, s.id);
  check(resolution.change.clientSequence !== first.change.clientSequence, "the resolution has a new client_sequence (§7.1)");
  checkDocument(server?.document, s.localDoc, "the server holds the local document");
  checkEqual(attempts.length, 2, "pushes of the document: the conflicting change and its resolution");
  const local = await s.client.readOne(s.collection, s.id);
  checkDocument(local?.document, s.localDoc, "the client keeps its document");
  checkEqual(local?.revision, server?.revision, "the client has the server's new revision");
  checkEqual(local?.pending, false, "nothing pending");
};

const conflictRemoteWins: ClientCheck = async (ctx) => {
  const s = await conflictScene(ctx, ctx.collection(), ConflictStrategy.REMOTE_WINS, { hide: true });
  conflictedPush(ctx, s, "conflict");
  checkEqual(pushesOf(ctx, s.id).length - s.before, 1, "a remote-wins client does not push again after Conflict");
  const server = await serverState(ctx, s.collection, s.id);
  checkDocument(server?.document, s.serverDoc, "the server keeps its document");
  const local = await s.client.readOne(s.collection, s.id);
  checkDocument(local?.document, s.serverDoc, "the client adopts the server's document");
  checkEqual(local?.revision, server?.revision, "and its revision");
  checkEqual(local?.pending, false, "nothing pending");
};

const conflictClientMerge: ClientCheck = async (ctx, params) => {
  const strategy = params.strategy === "last-write-wins" ? ConflictStrategy.LAST_WRITE_WINS : ConflictStrategy.MERGE;
  const s = await conflictScene(ctx, ctx.collection(), strategy);
  conflictedPush(ctx, s, "conflict");
  await checkConverged(ctx, s.collection, [s.client]);
  const local = await s.client.readOne(s.collection, s.id);
  // The local write is the later one. From base {a:1,b:1,c:1}, the other user
  // changed a, this client changed b: merge keeps both changes (three-way, §7),
  // last-write-wins keeps the whole later (local) document.
  const expected = strategy === ConflictStrategy.MERGE ? { a: 2, b: 3, c: 1 } : { a: 1, b: 3, c: 1 };
  checkDocument(local?.document, expected, `the ${params.strategy === "last-write-wins" ? "last-write-wins" : "merge"} result`);
  checkEqual(local?.pending, false, "nothing pending");
};

const conflictLwwRemoteLater: ClientCheck = async (ctx) => {
  const s = await conflictScene(ctx, ctx.collection(), ConflictStrategy.LAST_WRITE_WINS, { remoteAt: anHourAhead() });
  conflictedPush(ctx, s, "conflict");
  checkEqual(pushesOf(ctx, s.id).length - s.before, 1, "the local change is the earlier write, so it loses: nothing more is pushed (§10.1)");
  const server = await serverState(ctx, s.collection, s.id);
  checkDocument(server?.document, s.serverDoc, "the server keeps the later (remote) document");
  const local = await s.client.readOne(s.collection, s.id);
  checkDocument(local?.document, s.serverDoc, "the client adopts the later (remote) document");
  checkEqual(local?.revision, server?.revision, "and its revision");
  checkEqual(local?.pending, false, "nothing pending");
};

const conflictMergeThreeWay: ClientCheck = async (ctx) => {
  const s = await conflictScene(ctx, ctx.collection(), ConflictStrategy.MERGE, {
    base: { a: 1, b: 1, c: 1, d: 1 },
    serverDoc: { a: 2, b: 1, c: 6, d: 1, e: 1 },
    localDoc: { a: 1, b: 3, c: 5 },
    remoteAt: anHourAhead(),
  });
  conflictedPush(ctx, s, "conflict");
  await checkConverged(ctx, s.collection, [s.client]);
  const local = await s.client.readOne(s.collection, s.id);
  checkDocument(
    local?.document,
    { a: 2, b: 3, c: 6, e: 1 },
    "three-way merge against the version the client received (§7): a and e from the remote change, b and the removal of d from the local one, c (changed by both) from the later, remote write",
  );
  checkEqual(local?.pending, false, "nothing pending");
};

export const checks: Record<string, ClientCheck> = {
  "conflict-local-wins": conflictLocalWins,
  "conflict-remote-wins": conflictRemoteWins,
  "conflict-client-merge": conflictClientMerge,
  "conflict-lww-remote-later": conflictLwwRemoteLater,
  "conflict-merge-three-way": conflictMergeThreeWay,
};
