// Conflict-heavy: 10 clients keep updating the same 100 documents, so most
// changes meet a conflict, against the same clients updating 100 documents
// each (no contention): what the conflict path costs the server.
import { nowMs } from "../harness/clock.js";
import { CpuMeter } from "../harness/proc.js";
import { startWorker, stopAll, type Worker } from "../harness/processes.js";
import { interleave } from "../harness/rounds.js";
import { summarize } from "../harness/stats.js";
import type { RoundTotals } from "../generators/conflict-clients.js";
import { documentId } from "../data.js";
import { figure, ratio } from "./metrics.js";
import type { Workload } from "./types.js";

const COLLECTION = "shared";

export const conflicts: Workload = {
  id: "conflicts",
  title: "Conflict-heavy updates",
  async run(context) {
    const { clients, documents, batch, pushesPerClient, processes } = context.config.conflicts;
    const [server, seeder, ...workers] = await Promise.all([
      context.startServer({ label: "conflicts" }),
      startWorker("generators/wire.ts", "seeder"),
      ...Array.from({ length: processes }, (_, i) => startWorker("generators/conflict-clients.ts", `conflict clients#${i + 1}`)),
    ]);
    const busy: Record<string, number[]> = { contended: [], disjoint: [] };
    let rounds: Record<string, RoundTotals[]>;
    try {
      // Seed: the shared documents, and each client's own documents.
      await seeder.call("connect", server.url);
      const seed = async (prefix: string) =>
        (await seeder.call<{ revisions: Array<[string, string]> }>("push", {
          collection: COLLECTION, clientId: `seed-${prefix}`, idPrefix: prefix, from: 0, count: documents, batch: Math.min(documents, 500), keep: "all",
        })).revisions;
      const shared = await seed("same");
      const own = await Promise.all(Array.from({ length: clients }, (_, c) => seed(`own${c}`)));
      await seeder.stop();
      if (shared.length !== documents) throw new Error(`conflicts: seeded ${shared.length} of ${documents}`);

      const ofProcess = (p: number) => Array.from({ length: clients }, (_, c) => c).filter((c) => c % processes === p);
      await Promise.all(
        workers.map((w, p) =>
          Promise.all([
            w.call("setup", { url: server.url, group: "contended", clientIds: ofProcess(p).map((c) => `contender-${c}`), documents: ofProcess(p).map(() => shared) }),
            w.call("setup", { url: server.url, group: "disjoint", clientIds: ofProcess(p).map((c) => `owner-${c}`), documents: ofProcess(p).map((c) => own[c]!) }),
          ]),
        ),
      );
      const round = (group: string) => async () => {
        const meter = new CpuMeter([server.pid]);
        const startAt = nowMs() + 100;
        const totals = await Promise.all(workers.map((w) => w.call<RoundTotals>("run", { group, collection: COLLECTION, batch, pushes: pushesPerClient, startAt })));
        busy[group]!.push(meter.cores());
        return totals.reduce((a, b) => ({
          accepted: a.accepted + b.accepted,
          conflicts: a.conflicts + b.conflicts,
          other: a.other + b.other,
          pushes: a.pushes + b.pushes,
          ms: Math.max(a.ms, b.ms),
        }));
      };
      rounds = await interleave<RoundTotals>(context.config, { contended: round("contended"), disjoint: round("disjoint") }, (line) =>
        context.log(`conflicts: ${line}`),
      );
    } finally {
      await stopAll(workers);
      await context.stopServer(server);
    }
    const perSecond = (r: RoundTotals, n: number) => (n * 1000) / r.ms;
    const contended = rounds.contended!;
    const disjoint = rounds.disjoint!;
    const settled = figure(`${clients} clients on the same ${documents} documents`, "changes settled/s", contended.map((r) => perSecond(r, r.accepted + r.conflicts)));
    const settledBase = figure(`the same clients on ${documents} documents each`, "changes settled/s", disjoint.map((r) => perSecond(r, r.accepted + r.conflicts)));
    const accepted = figure(`${clients} clients on the same ${documents} documents`, "changes accepted/s", contended.map((r) => perSecond(r, r.accepted)));
    const acceptedBase = figure(`the same clients on ${documents} documents each`, "changes accepted/s", disjoint.map((r) => perSecond(r, r.accepted)));
    const share = figure("conflicts / changes pushed", "", contended.map((r) => r.conflicts / Math.max(1, r.accepted + r.conflicts + r.other)));
    return {
      id: "conflicts",
      title: "Conflict-heavy updates",
      method:
        `${clients} clients in ${processes} process(es), each on its own HTTP/2 connection, push ${pushesPerClient} updates of ${batch} random ` +
        `documents each per round, one after another, on the revision each last saw; on a conflict (the server's default strategy reports it) a ` +
        `client takes the current revision and goes on. Contended: all update the same ${documents} documents. Baseline: each its own ${documents}.`,
      metrics: [
        { id: "conflicts.settled", label: "changes settled (accepted or conflict) per second", subject: settled, baseline: settledBase, ratio: ratio(settled, settledBase, "contended / disjoint") },
        { id: "conflicts.accepted", label: "changes accepted per second", subject: accepted, baseline: acceptedBase, ratio: ratio(accepted, acceptedBase, "contended / disjoint") },
        { id: "conflicts.share", label: "share of contended changes that met a conflict", subject: share },
      ],
      context: {
        "server CPU (cores busy), contended": summarize(busy.contended!).median,
        "server CPU (cores busy), disjoint": summarize(busy.disjoint!).median,
        "other outcomes (should be 0)": contended.concat(disjoint).reduce((n, r) => n + r.other, 0),
      },
      profiles: context.takeProfiles(),
    };
  },
};
