// Role: clients that keep updating documents, each on the revision it last
// saw. Where several clients update the same documents, most pushes meet a
// conflict (the server's default strategy reports it with the current state);
// the client then takes the current revision and goes on, as an app that
// rebases would. Each client has its own HTTP/2 connection and pushes one
// batch at a time, a fixed number of times (closed loop: this measures
// throughput, not latency).
import { create } from "@bufbuild/protobuf";
import { PushRequestSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { nowMs, sleepUntil } from "../harness/clock.js";
import { pushedChange } from "../data.js";
import { syncClient, type SyncClient } from "./connect-clients.js";

interface ConflictClient {
  readonly id: string;
  readonly client: SyncClient;
  /** Document id -> the revision this client last saw. */
  readonly known: Map<string, string>;
  /** Client sequences keep rising across rounds (idempotency). */
  sequence: number;
}

export interface RoundTotals {
  readonly accepted: number;
  readonly conflicts: number;
  readonly other: number;
  readonly pushes: number;
  /** From the common start to this process's last answer. */
  readonly ms: number;
}

const groups = new Map<string, ConflictClient[]>();

function pick<T>(items: readonly T[], count: number): T[] {
  const chosen = new Set<number>();
  while (chosen.size < Math.min(count, items.length)) chosen.add(Math.floor(Math.random() * items.length));
  return [...chosen].map((i) => items[i]!);
}

export const handlers = {
  /**
   * Creates the clients of a group; `documents[i]` lists the [id, revision]
   * pairs client i updates (the same list for every client when they contend).
   */
  setup(plan: { url: string; group: string; clientIds: string[]; documents: Array<Array<[string, string]>> }): void {
    groups.set(
      plan.group,
      plan.clientIds.map((id, i) => ({ id, client: syncClient(plan.url, "2"), known: new Map(plan.documents[i]), sequence: 0 })),
    );
  },

  /** Every client pushes `pushes` batches, one after another; all start at `startAt`. */
  async run(plan: { group: string; collection: string; batch: number; pushes: number; startAt: number }): Promise<RoundTotals> {
    const clients = groups.get(plan.group);
    if (!clients) throw new Error(`no group ${plan.group}`);
    let accepted = 0;
    let conflicts = 0;
    let other = 0;
    let pushes = 0;
    await sleepUntil(plan.startAt);
    await Promise.all(
      clients.map(async (c) => {
        const ids = [...c.known.keys()];
        for (let p = 0; p < plan.pushes; p++) {
          const changes = pick(ids, plan.batch).map((id) => pushedChange(plan.collection, id, ++c.sequence, c.sequence, c.known.get(id)));
          const response = await c.client.push(create(PushRequestSchema, { clientId: c.id, changes }));
          pushes++;
          response.results.forEach((result, i) => {
            const id = changes[i]!.documentId;
            const outcome = result.outcome;
            if (outcome.case === "accepted") {
              accepted++;
              c.known.set(id, outcome.value.revision);
            } else if (outcome.case === "conflict") {
              conflicts++;
              if (outcome.value.current) c.known.set(id, outcome.value.current.revision);
            } else {
              other++;
            }
          });
        }
      }),
    );
    return { accepted, conflicts, other, pushes, ms: nowMs() - plan.startAt };
  },

  close(): void {
    groups.clear();
  },
};
