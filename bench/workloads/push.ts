// Push: one client pushes new 150-byte documents in batches of 1, 100 and 500
// over Connect (binary, HTTP/2), one push after another, against raw LevelDB
// writing the same entries in the same batches.
import type { Layout } from "../baselines/level-peer.js";
import { CpuMeter } from "../harness/proc.js";
import { startWorker } from "../harness/processes.js";
import { interleave } from "../harness/rounds.js";
import { summarize } from "../harness/stats.js";
import { describeLayout, serverLayout } from "./layout.js";
import { atLeast, cpuCeiling, figure, ratio } from "./metrics.js";
import type { Metric, Workload } from "./types.js";

interface PushResult {
  readonly ms: number;
  readonly accepted: number;
}

export const push: Workload = {
  id: "push",
  title: "Push",
  async run(context) {
    const { config } = context;
    // One client process serves every batch size, connecting to each fresh server.
    const [level, wire] = await Promise.all([startWorker("baselines/level-peer.ts", "raw level"), startWorker("generators/wire.ts", "push client")]);
    const metrics: Metric[] = [];
    const serverCores: Record<string, number> = {};
    let layout: Layout | undefined;
    try {
      layout = await serverLayout(context, level);
      for (const { batch, changes } of config.push.batches) {
        const server = await context.startServer({ label: `push-batch${batch}` });
        const busy: number[] = [];
        try {
          await wire.call("connect", server.url);
          await level.call("open");
          const rounds = await interleave(
            config,
            {
              server: async ({ index }) => {
                const meter = new CpuMeter([server.pid]);
                const result = await wire.call<PushResult>("push", {
                  collection: "todos",
                  clientId: `pusher-${index}`,
                  idPrefix: `r${index}`,
                  from: 0,
                  count: changes,
                  batch,
                });
                busy.push(meter.cores());
                if (result.accepted !== changes) throw new Error(`push: ${result.accepted} of ${changes} changes accepted`);
                return (changes * 1000) / result.ms;
              },
              "raw level": async () => {
                const result = await level.call<{ ms: number }>("write", layout, changes, batch);
                return (changes * 1000) / result.ms;
              },
            },
            (line) => context.log(`push batch ${batch}: ${line}`),
          );
          const subject = figure(`Pocket Sync server, batches of ${batch}`, "changes/s", rounds.server!);
          const baseline = figure(`raw level batch writes of the same entries, batches of ${batch}`, "changes/s", rounds["raw level"]!);
          const r = ratio(subject, baseline, "server / raw level");
          metrics.push({
            id: `push.batch${batch}`,
            label: `push, batches of ${batch}`,
            subject,
            baseline,
            ratio: r,
            ...(batch === 100 ? { target: atLeast(r, 1 / 3, "≥ 1/3 of raw level") } : {}),
          });
          serverCores[`server CPU (cores busy), batches of ${batch}`] = summarize(busy).median;
          if (batch === 100) Object.assign(serverCores, cpuCeiling("change", subject, busy, baseline));
        } finally {
          await context.stopServer(server);
        }
      }
    } finally {
      await Promise.all([level.stop(), wire.stop()]);
    }
    return {
      id: "push",
      title: "Push",
      method:
        "One client process pushes new 150-byte documents over Connect (binary, HTTP/2), one push after another, to the server on LevelDB " +
        "with process durability; rate = changes acknowledged per second. Raw level writes the entries the server writes per change " +
        "(probed from a real server's directory) in one db.batch per batch, without sync, in its own process.",
      metrics,
      context: { ...serverCores, ...(layout ? describeLayout(layout) : {}) },
      profiles: context.takeProfiles(),
    };
  },
};
