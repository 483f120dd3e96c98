// The named checks of conformance/cases/client-conflict-resolved.yaml (suite conflict-resolved), beside it by name.
import { ConflictStrategy } from "../src/control.js";
import { type ClientContext, STRATEGY_COLLECTIONS } from "../src/client-mode.js";
import {
  checkDocument,
  type ClientCheck,
  conflictedPush,
  type ConflictScene,
  conflictScene,
  json,
  pushesOf,
  serverState,
} from "../src/client-check-helpers.js";
import { check, checkEqual } from "../src/wire.js";

async function resolvedCase(ctx: ClientContext, strategy: keyof typeof STRATEGY_COLLECTIONS, expectDoc: (s: ConflictScene) => unknown): Promise<void> {
  const s = await conflictScene(ctx, STRATEGY_COLLECTIONS[strategy], ConflictStrategy.UNSPECIFIED, { hide: true });
  const first = conflictedPush(ctx, s, "resolved");
  const result = ctx.proxy.pushes[first.record]!.results![ctx.proxy.pushes[first.record]!.changes.indexOf(first.change)]!;
  check(result.outcome.case === "resolved", "resolved");
  const current = result.outcome.value.current!;
  checkEqual(pushesOf(ctx, s.id).length - s.before, 1, "after Resolved the client does not push the document again (§7.2, §9.3)");
  const local = await s.client.readOne(s.collection, s.id);
  checkDocument(local?.document, json(current.document), "the client adopts Resolved.current (§7.2)");
  checkEqual(local?.revision, current.revision, "and its revision");
  checkEqual(local?.pending, false, "nothing pending");
  const expected = expectDoc(s);
  if (expected !== undefined) checkDocument(current.document, expected, `the ${strategy} outcome`);
  // A further local write builds on the adopted revision: no conflict.
  ctx.proxy.hiddenDocuments.clear();
  await s.client.write(s.collection, s.id, { after: true });
  await s.client.syncUntilOk();
  const last = pushesOf(ctx, s.id).at(-1)!;
  checkEqual(last.change.baseRevision, current.revision, "the next push is based on the adopted revision");
  checkDocument((await serverState(ctx, s.collection, s.id))?.document, { after: true }, "the next write is accepted");
}

const resolvedServerWins: ClientCheck = (ctx) => resolvedCase(ctx, "server-wins", (s) => s.serverDoc);
const resolvedClientWins: ClientCheck = (ctx) => resolvedCase(ctx, "client-wins", (s) => s.localDoc);
const resolvedMerge: ClientCheck = (ctx) => resolvedCase(ctx, "merge", () => undefined);
const resolvedLww: ClientCheck = (ctx) => resolvedCase(ctx, "last-write-wins", (s) => s.localDoc);

export const checks: Record<string, ClientCheck> = {
  "resolved-server-wins": resolvedServerWins,
  "resolved-client-wins": resolvedClientWins,
  "resolved-merge": resolvedMerge,
  "resolved-last-write-wins": resolvedLww,
};
