// The named checks of conformance/cases/client-retry.yaml (suite retry), beside it by name.
import { equals } from "@bufbuild/protobuf";
import { CheckpointSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { ClientContext } from "../src/client-mode.js";
import {
  checkDocument,
  type ClientCheck,
  clientView,
  isEmptyCheckpoint,
  pushesOf,
  serverState,
  serverWrite,
} from "../src/client-check-helpers.js";
import { check, checkEqual, stringify } from "../src/wire.js";

type Failure = "drop" | "lose-response" | "unavailable";

async function retryCase(ctx: ClientContext, faults: readonly Failure[], times: number): Promise<void> {
  const todos = ctx.collection();
  const client = await ctx.start();
  const id = ctx.doc("r");
  await client.write(todos, id, { v: 1 });
  for (let i = 0; i < times; i++) ctx.proxy.inject("push", { kind: faults[i % faults.length]! });
  const fault = faults.join(" or ");
  await client.syncUntilOk(times + 8);
  const attempts = pushesOf(ctx, id);
  check(attempts.length >= times + 1, `expected the push to be retried after ${times} ${fault} fault(s), saw ${attempts.length} attempt(s)`);
  const sequences = new Set(attempts.map((a) => a.change.clientSequence));
  checkEqual(sequences.size, 1, `every retry of the change reuses its client_sequence (§9.1); saw ${[...sequences].join(", ")}`);
  const first = attempts[0]!.change;
  for (const a of attempts) {
    checkEqual(a.change.document, first.document, "a retry sends the same document");
    checkEqual(a.change.baseRevision, first.baseRevision, "a retry sends the same base revision");
  }
  const server = await serverState(ctx, todos, id);
  checkDocument(server?.document, { v: 1 }, "the server's document");
  checkEqual(server?.clientSequence, first.clientSequence, "the server holds the change exactly once");
  const local = await client.readOne(todos, id);
  checkEqual(local?.revision, server?.revision, "the client adopts the revision of the (once) applied change");
  checkEqual(local?.pending, false, "the change is no longer pending");
  checkEqual(ctx.proxy.pendingFaults("push"), 0, "every injected fault was hit");
}

const retryDrop: ClientCheck = (ctx, params) => retryCase(ctx, ["drop"], Number(params.times ?? 1));
const retryLostResponse: ClientCheck = (ctx, params) => retryCase(ctx, ["lose-response"], Number(params.times ?? 1));
const retryUnavailable: ClientCheck = (ctx, params) => retryCase(ctx, ["unavailable"], Number(params.times ?? 2));
/**
 * Many failures in a row, none of which reaches the server: a client that
 * gives its change up after some number of attempts (a maxRetryAttempts that
 * drops the outbox) loses it; §9.1 wants it retried until it is answered.
 */
const retryManyFailures: ClientCheck = (ctx, params) => retryCase(ctx, ["unavailable", "drop"], Number(params.times ?? 12));

const retryDelay: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  const client = await ctx.start();
  await client.write(todos, ctx.doc("slow"), { v: 1 });
  ctx.proxy.inject("push", { kind: "delay", ms: 1500 });
  ctx.proxy.inject("pull", { kind: "delay", ms: 1500 });
  await client.syncUntilOk();
  checkEqual(new Set(pushesOf(ctx, ctx.doc("slow")).map((a) => a.change.clientSequence)).size, 1, "one client_sequence across attempts");
  checkDocument((await serverState(ctx, todos, ctx.doc("slow")))?.document, { v: 1 }, "a slow server still gets the change");
};

const retryPullFaults: ClientCheck = async (ctx) => {
  const todos = ctx.collection();
  for (let i = 0; i < 5; i++) await serverWrite(ctx, todos, ctx.doc(`p${i}`), { i });
  const client = await ctx.start();
  ctx.proxy.inject("pull", { kind: "drop" });
  ctx.proxy.inject("pull", { kind: "unavailable" });
  ctx.proxy.inject("pull", { kind: "lose-response" });
  await client.syncUntilOk(12);
  await client.syncUntilOk();
  checkEqual((await clientView(client, todos)).size, 5, "every document arrives despite failed pulls");
  // A lost pull response must not advance the stored checkpoint: every pull
  // starts from a checkpoint the client actually received.
  const received = ctx.proxy.pulls.filter((p) => p.response && p.fault !== "lose-response").map((p) => p.response!.checkpoint);
  for (const p of ctx.proxy.pulls) {
    if (isEmptyCheckpoint(p.checkpoint)) continue;
    check(received.some((r) => r && equals(CheckpointSchema, r, p.checkpoint!)), `a pull was sent with a checkpoint the client never received: ${stringify(p.checkpoint)}`);
  }
};

export const checks: Record<string, ClientCheck> = {
  "retry-drop": retryDrop,
  "retry-lost-response": retryLostResponse,
  "retry-unavailable": retryUnavailable,
  "retry-many-failures": retryManyFailures,
  "retry-delay": retryDelay,
  "retry-pull-faults": retryPullFaults,
};
