// Growth: push and pull rates as one collection grows to 1k, 10k, 100k and 1M
// documents. At each size: updates of documents spread evenly over the whole
// collection (batches of 100, on their current revisions; the size stays put)
// and pulls of a fixed number of documents from a random position (pages of
// 1000). Filling between sizes is not measured as a result, only reported.
import { CpuMeter } from "../harness/proc.js";
import { startWorker, stopAll, type Worker } from "../harness/processes.js";
import { interleave } from "../harness/rounds.js";
import { summarize } from "../harness/stats.js";
import type { PushOutcome } from "../generators/wire.js";
import { documentId } from "../data.js";
import { figure } from "./metrics.js";
import type { Metric, Workload } from "./types.js";

const COLLECTION = "grow";
const PREFIX = "g";

/** The documents updated at size n: `count` of them, evenly spread over 0 .. n-1. */
function targetsAt(n: number, count: number): number[] {
  const u = Math.min(count, n);
  return Array.from({ length: u }, (_, j) => Math.floor((j * n) / u));
}

export const growth: Workload = {
  id: "growth",
  title: "Growth",
  async run(context) {
    const { sizes, updates, pull, fillBatch, fillProcesses } = context.config.growth;
    const [server, measurer, ...fillers] = await Promise.all([
      context.startServer({ label: "growth" }),
      startWorker("generators/wire.ts", "growth client"),
      ...Array.from({ length: fillProcesses }, (_, i) => startWorker("generators/wire.ts", `filler#${i + 1}`)),
    ]);
    const workers: Worker[] = [measurer, ...fillers];
    const metrics: Metric[] = [];
    const extra: Record<string, string | number> = {};
    const known = new Map<string, string>();
    let epoch = "";
    let lastSequence = 0n;
    try {
      await Promise.all([...fillers, measurer].map((w) => w.call("connect", server.url)));
      const ascending = [...sizes].sort((a, b) => a - b);
      const wanted = new Set(ascending.flatMap((n) => targetsAt(n, updates)));
      let filled = 0;
      for (const size of ascending) {
        // Fill filled .. size-1, split into one contiguous range per process.
        const count = size - filled;
        const share = Math.ceil(count / fillProcesses);
        const fillStart = performance.now();
        const parts = await Promise.all(
          fillers.map((w, p) => {
            const from = filled + p * share;
            const n = Math.max(0, Math.min(share, size - from));
            const keep = [...wanted].filter((x) => x >= from && x < from + n);
            return n === 0
              ? undefined
              : w.call<PushOutcome>("fill", { collection: COLLECTION, clientId: `filler-${p}`, idPrefix: PREFIX, from, count: n, batch: fillBatch, concurrency: 2, keep });
          }),
        );
        const fillMs = performance.now() - fillStart;
        for (const part of parts) {
          if (!part) continue;
          if (part.other > 0) throw new Error(`growth fill: ${part.other} changes not accepted`);
          for (const [id, revision] of part.revisions) known.set(id, revision);
          epoch = part.epoch || epoch;
          if (part.lastSequence > lastSequence) lastSequence = part.lastSequence;
        }
        filled = size;
        extra[`fill rate to ${size} documents (changes/s, ${fillProcesses} process(es) × 2 pushes of ${fillBatch} in flight)`] = Math.round((count * 1000) / fillMs);
        context.log(`growth: ${size} documents stored`);

        const targets = targetsAt(size, updates).map((n) => documentId(PREFIX, n));
        const pullCount = Math.min(pull, size);
        const busy: number[] = [];
        const rounds = await interleave(
          context.config,
          {
            push: async ({ index }) => {
              const plan = { collection: COLLECTION, clientId: `updater-${size}-${index}`, targets: targets.map((id) => [id, known.get(id)!]), batch: 100, salt: index * 1_000_003 };
              const meter = new CpuMeter([server.pid]);
              const outcome = await measurer.call<PushOutcome>("update", plan);
              busy.push(meter.cores());
              if (outcome.accepted !== targets.length) throw new Error(`growth: ${outcome.accepted} of ${targets.length} updates accepted`);
              for (const [id, revision] of outcome.revisions) known.set(id, revision);
              if (outcome.lastSequence > lastSequence) lastSequence = outcome.lastSequence;
              return (targets.length * 1000) / outcome.ms;
            },
            pull: async () => {
              // A random start that leaves about pullCount documents after it.
              const room = Number(lastSequence) - Math.ceil(pullCount * 1.2);
              const after = BigInt(Math.max(0, Math.floor(Math.random() * Math.max(0, room))));
              const result = await measurer.call<{ ms: number; changes: number }>("pull", {
                collections: [COLLECTION], limit: 1000, max: pullCount, ...(after > 0n ? { after: { sequence: after, epoch } } : {}),
              });
              if (result.changes === 0) throw new Error("growth: a pull returned nothing");
              return (result.changes * 1000) / result.ms;
            },
          },
          (line) => context.log(`growth ${size}: ${line}`),
        );
        metrics.push(
          { id: `growth.${size}.push`, label: `push at ${size} documents (updates, batches of 100)`, subject: figure(`${targets.length} updates spread over ${size} documents`, "changes/s", rounds.push!) },
          { id: `growth.${size}.pull`, label: `pull at ${size} documents (pages of 1000)`, subject: figure(`${pullCount} documents from a random position`, "documents/s", rounds.pull!) },
        );
        extra[`server CPU (cores busy) pushing at ${size}`] = summarize(busy).median;
      }
    } finally {
      await stopAll(workers);
      await context.stopServer(server);
    }
    return {
      id: "growth",
      title: "Growth",
      method:
        `One collection is filled to each size in turn (${fillProcesses} process(es) pushing batches of ${fillBatch}). At each size, one ` +
        `client process updates ${updates} documents spread evenly over the collection (batches of 100, on their current revisions, so ` +
        `the size stays put) and pulls ${pull} documents from a random position (pages of 1000), in interleaved rounds.`,
      metrics,
      context: extra,
      profiles: context.takeProfiles(),
    };
  },
};
