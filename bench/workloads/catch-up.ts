// Catch-up pull: a client with no checkpoint pulls every document of a
// collection in the largest pages the protocol allows, against raw LevelDB
// iterating the same entries in pages of the same size.
import type { Layout } from "../baselines/level-peer.js";
import { CpuMeter } from "../harness/proc.js";
import { startWorker } from "../harness/processes.js";
import { interleave } from "../harness/rounds.js";
import { summarize } from "../harness/stats.js";
import { describeLayout, serverLayout } from "./layout.js";
import { atLeast, cpuCeiling, figure, ratio } from "./metrics.js";
import type { Workload } from "./types.js";

export const catchUp: Workload = {
  id: "catch-up",
  title: "Catch-up pull",
  async run(context) {
    const { documents, page } = context.config.catchUp;
    const [level, server, wire] = await Promise.all([
      startWorker("baselines/level-peer.ts", "raw level"),
      context.startServer({ label: "catch-up" }),
      startWorker("generators/wire.ts", "pull client"),
    ]);
    const busy: number[] = [];
    let layout: Layout;
    let rounds: Record<string, number[]>;
    let fillMs: number;
    try {
      layout = await serverLayout(context, level);
      await wire.call("connect", server.url);
      context.log(`catch-up: filling the server and raw level with ${documents} documents`);
      const filled = await wire.call<{ ms: number; accepted: number }>("fill", {
        collection: "todos",
        clientId: "filler",
        idPrefix: "d",
        from: 0,
        count: documents,
        batch: 500,
        concurrency: 2,
      });
      if (filled.accepted !== documents) throw new Error(`catch-up fill: ${filled.accepted} of ${documents} accepted`);
      fillMs = filled.ms;
      await level.call("open");
      await level.call("write", layout, documents, 500);
      rounds = await interleave(
        context.config,
        {
          server: async () => {
            const meter = new CpuMeter([server.pid]);
            const result = await wire.call<{ ms: number; changes: number }>("pull", { collections: ["todos"], limit: page });
            busy.push(meter.cores());
            if (result.changes !== documents) throw new Error(`catch-up: pulled ${result.changes} of ${documents}`);
            return (documents * 1000) / result.ms;
          },
          "raw level": async () => {
            const result = await level.call<{ ms: number; entries: number }>("iterate", layout, documents, page);
            if (result.entries !== documents) throw new Error(`raw iterator read ${result.entries} of ${documents}`);
            return (documents * 1000) / result.ms;
          },
        },
        (line) => context.log(`catch-up: ${line}`),
      );
    } finally {
      await Promise.all([wire.stop(), level.stop(), context.stopServer(server)]);
    }
    const subject = figure(`Pocket Sync server, ${documents} documents, pages of ${page}`, "documents/s", rounds.server!);
    const baseline = figure(`raw level iterator, pages of ${page}`, "entries/s", rounds["raw level"]!);
    const r = ratio(subject, baseline, "server / raw iterator");
    return {
      id: "catch-up",
      title: "Catch-up pull",
      method:
        `A client process with no checkpoint pulls all ${documents} documents of a collection over Connect (binary, HTTP/2) in pages of ${page} ` +
        "(the protocol's largest), decoding every response. Raw level reads as many entries of the server's change index layout from its own " +
        "copy of the same data, one iterator per page of the same size (nextv), in its own process.",
      metrics: [{ id: "catch-up", label: `catch-up pull, ${documents} documents`, subject, baseline, ratio: r, target: atLeast(r, 1 / 2, "≥ 1/2 of the raw iterator") }],
      context: {
        "server CPU (cores busy) while pulling": summarize(busy).median,
        ...cpuCeiling("document", subject, busy, baseline),
        "server fill rate (changes/s, 2 pushes of 500 in flight)": Math.round((documents * 1000) / fillMs),
        ...describeLayout(layout),
      },
      profiles: context.takeProfiles(),
    };
  },
};
