// Role: the fan-out writer. Commits one change per period on an open-loop
// schedule (harness/open-loop.ts): commit i is sent at t0 + i × period whether
// or not earlier pushes have been acknowledged, and its acknowledgement
// latency is measured from that intended time.
import { create } from "@bufbuild/protobuf";
import { PushRequestSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { openLoop, type OpenLoopResult } from "../harness/open-loop.js";
import { pushedChange } from "../data.js";
import { syncClient, type SyncClient } from "./connect-clients.js";
import { commitId, type RoundPlan } from "./subscribers.js";

let client: SyncClient | undefined;

export const handlers = {
  connect(url: string): void {
    client = syncClient(url, "2");
  },

  /** Commits on schedule; what is not acknowledged by `deadline` is aborted and counted as timed out. */
  async run(plan: RoundPlan & { collection: string; deadline: number }): Promise<OpenLoopResult> {
    const c = client;
    if (!c) throw new Error("call connect first");
    const clientId = `writer-${plan.round}`;
    const requests = Array.from({ length: plan.commits }, (_, i) =>
      create(PushRequestSchema, { clientId, changes: [pushedChange(plan.collection, commitId(plan.round, i), i, i + 1)] }),
    );
    return openLoop(
      plan.t0,
      plan.periodMs,
      plan.commits,
      async (i, signal) => {
        const response = await c.push(requests[i]!, { signal });
        const outcome = response.results[0]?.outcome.case;
        if (outcome !== "accepted") throw new Error(`commit ${i} was not accepted: ${outcome}`);
      },
      { deadline: plan.deadline },
    );
  },

  close(): void {
    client = undefined;
  },
};
