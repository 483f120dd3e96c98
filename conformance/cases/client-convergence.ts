// The named checks of conformance/cases/client-convergence.yaml (suite convergence), beside it by name.
import { ConflictStrategy } from "../src/control.js";
import { checkConverged, type ClientCheck, clientView, pushesOf, serverDocs, serverWrite } from "../src/client-check-helpers.js";
import { check, checkEqual } from "../src/wire.js";

const convergenceWithFaults: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const a = await ctx.start({ name: "a", conflictStrategy: ConflictStrategy.UNSPECIFIED });
  const b = await ctx.start({ name: "b", conflictStrategy: ConflictStrategy.UNSPECIFIED });
  const faults = ["drop", "lose-response", "unavailable"] as const;
  for (let round = 0; round < 4; round++) {
    ctx.proxy.inject("push", { kind: faults[round % 3]! });
    ctx.proxy.inject("pull", { kind: faults[(round + 1) % 3]! });
    await a.write(todos, ctx.doc(`a${round}`), { by: "a", round });
    await b.write(todos, ctx.doc(`b${round}`), { by: "b", round });
    if (round % 2 === 1) await a.delete(todos, ctx.doc(`a${round - 1}`));
    await serverWrite(ctx, todos, ctx.doc(`r${round}`), { by: "runner", round });
    await a.syncUntilOk(12);
    await b.syncUntilOk(12);
  }
  // Settle: a few more rounds without faults.
  ctx.proxy.clearFaults();
  for (let i = 0; i < 2; i++) {
    await a.syncUntilOk();
    await b.syncUntilOk();
  }
  await checkConverged(ctx, todos, [a, b]);
  const view = await clientView(a, todos);
  checkEqual(view.size, 4 + 4 + 4 - 2, "documents after 4 rounds (2 deleted)");
  for (const [who, client] of [["a", a], ["b", b]] as const) {
    const status = await client.status();
    checkEqual(status.pendingChanges, 0, `${who}: nothing pending`);
  }
  // Nobody applied anything twice: each client change is on the server once.
  const server = await serverDocs(ctx, todos);
  for (const [id, c] of server) {
    if (c.clientId === ctx.runnerId) continue;
    const attempts = pushesOf(ctx, id);
    const applied = new Set(attempts.map((p) => p.change.clientSequence));
    check(applied.has(c.clientSequence), `${id}: the server's change is one the client pushed`);
  }
};

export const checks: Record<string, ClientCheck> = {
  "convergence-with-faults": convergenceWithFaults,
};
