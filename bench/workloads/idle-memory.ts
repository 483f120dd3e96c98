// Idle stream memory: what one open, idle Subscribe stream costs the server,
// from the kernel's view of its resident memory (/proc/<pid>/status, VmRSS)
// after a forced full GC, so Node's HTTP/2 and stream state outside the JS
// heap count too. A fresh server per round: RSS that a previous round's
// streams left behind would otherwise be reused and hide the cost. A tenth of
// the streams open first, so that one-time costs (compiled code, the first
// connection, buffers) stay out of the per-stream figure: it is the marginal
// cost of one more idle stream.
import { sleep } from "../harness/clock.js";
import { startWorkers, stopAll } from "../harness/processes.js";
import { interleave } from "../harness/rounds.js";
import { atMost, figure } from "./metrics.js";
import type { Workload } from "./types.js";

interface IdleRound {
  readonly rssPerStreamKiB: number;
  readonly heapPerStreamKiB: number;
  readonly externalPerStreamKiB: number;
  /** RSS still held per stream once the streams closed (what is not given back). */
  readonly retainedPerStreamKiB: number;
  readonly openMs: number;
}

export const idleMemory: Workload = {
  id: "idle-memory",
  title: "Idle stream memory",
  async run(context) {
    const { streams, processes, connectionsPerProcess, settleMs } = context.config.idle;
    const workers = await startWorkers("generators/subscribers.ts", processes, "idle subscribers");
    // `streams` measured, split over the processes, after `prime` per process.
    const counts = Array.from({ length: processes }, (_, i) => Math.floor(streams / processes) + (i < streams % processes ? 1 : 0));
    const prime = Math.max(1, Math.ceil(streams / processes / 10));
    let rounds: Record<string, IdleRound[]>;
    try {
      // No warm-up round: each round is a fresh server whose primer streams pay the one-time costs.
      rounds = await interleave<IdleRound>(
        { warmup: 0, rounds: context.config.rounds },
        {
          server: async () => {
            const server = await context.startServer({ label: "idle-memory", gcHook: true });
            try {
              await Promise.all(workers.map((w) => w.call("open", { url: server.url, count: prime, connections: 1, collection: "idle" })));
              await sleep(settleMs);
              const before = await server.gc();
              const beforeRss = server.rssKiB();
              const opened = await Promise.all(
                workers.map((w, i) =>
                  w.call<{ ms: number }>("open", { url: server.url, count: counts[i]!, connections: connectionsPerProcess, collection: "idle" }),
                ),
              );
              await sleep(settleMs);
              const after = await server.gc();
              const afterRss = server.rssKiB();
              await Promise.all(workers.map((w) => w.call("close")));
              await sleep(settleMs);
              await server.gc();
              const closedRss = server.rssKiB();
              return {
                rssPerStreamKiB: (afterRss - beforeRss) / streams,
                heapPerStreamKiB: (after.heapUsed - before.heapUsed) / 1024 / streams,
                externalPerStreamKiB: (after.external - before.external) / 1024 / streams,
                retainedPerStreamKiB: (closedRss - beforeRss) / streams,
                openMs: Math.max(...opened.map((o) => o.ms)),
              };
            } finally {
              await context.stopServer(server);
            }
          },
        },
        (line) => context.log(`idle memory: ${line}`),
      );
    } finally {
      await stopAll(workers);
    }
    const server = rounds.server!;
    const rss = figure(`server RSS per idle stream (${streams} streams)`, "KiB", server.map((r) => r.rssPerStreamKiB));
    const heap = figure("JS heap per idle stream", "KiB", server.map((r) => r.heapPerStreamKiB));
    const retained = figure("RSS per stream still held after the streams closed", "KiB", server.map((r) => r.retainedPerStreamKiB));
    return {
      id: "idle-memory",
      title: "Idle stream memory",
      method:
        `${processes} generator process(es) open ${streams} Subscribe streams (Connect, binary) over ${connectionsPerProcess} HTTP/2 connections each ` +
        `to a fresh server started with --expose-gc and a preloaded hook that runs a full GC on SIGUSR2, after ${prime} stream(s) per process ` +
        `opened first to pay one-time costs. RSS (VmRSS) is read after ${settleMs} ms of settling and a GC, before and after opening; ` +
        "the difference is divided by the number of streams opened in between.",
      metrics: [
        { id: "idle.rss", label: "server RSS per idle Subscribe stream (HTTP/2)", subject: rss, target: atMost(rss, 20, "≤ 20 KiB") },
        { id: "idle.heap", label: "JS heap per idle Subscribe stream", subject: heap },
        { id: "idle.retained", label: "RSS per stream kept after the streams closed", subject: retained },
      ],
      context: {
        streams,
        "time to open every stream (ms)": Math.round(server.reduce((m, r) => Math.max(m, r.openMs), 0)),
        "external memory per stream (KiB)": figure("", "", server.map((r) => r.externalPerStreamKiB)).summary.median,
      },
      profiles: context.takeProfiles(),
    };
  },
};
