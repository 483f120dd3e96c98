// Fan-out: one writer commits one change every 50 ms (20 commits/s) to a
// collection that K subscribers follow over Subscribe streams, spread over
// several HTTP/2 connections and generator processes. Latency runs from the
// commit's intended send time to its delivery on each stream.
import { nowMs } from "../harness/clock.js";
import { CpuMeter } from "../harness/proc.js";
import { startWorker, stopAll, type Worker } from "../harness/processes.js";
import { interleave } from "../harness/rounds.js";
import { latencies, summarize } from "../harness/stats.js";
import type { RoundResult } from "../generators/subscribers.js";
import type { OpenLoopResult } from "../harness/open-loop.js";
import { atMost, figure } from "./metrics.js";
import type { Metric, Workload } from "./types.js";

export interface FanoutRound {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly delivered: number;
  readonly missing: number;
  readonly duplicates: number;
  readonly ackP50: number;
  readonly ackP99: number;
  readonly ackFailed: number;
  /** Pushes not acknowledged by the round's deadline (counted at the time waited). */
  readonly ackTimedOut: number;
  /** How late the writer sent its worst commit (its own event loop's delay). */
  readonly writerLateMs: number;
  readonly serverCores: number;
  readonly generatorCores: number;
  /** Deliveries per second of server CPU time: the fan-out cost. */
  readonly deliveriesPerCpuSecond: number;
}

export interface FanoutLevel {
  readonly subscribers: number;
  readonly processes: number;
  readonly connections: number;
  readonly openMs: number;
  readonly rounds: FanoutRound[];
  readonly reconnects: number;
  readonly streamErrors: number;
  readonly lastStreamError?: string;
}

const COLLECTION = "live";

function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

async function runLevel(context: Parameters<Workload["run"]>[0], subscribers: number): Promise<FanoutLevel> {
  const { fanout } = context.config;
  const processes = Math.min(fanout.processesFor(subscribers), subscribers);
  const [server, writer, ...subs] = await Promise.all([
    context.startServer({ label: `fanout-${subscribers}` }),
    startWorker("generators/writer.ts", "writer"),
    ...split(subscribers, processes).map((_, i) => startWorker("generators/subscribers.ts", `subscribers#${i + 1}`)),
  ]);
  const workers: Worker[] = [writer, ...subs];
  try {
    await writer.call("connect", server.url);
    const counts = split(subscribers, processes);
    const opened = await Promise.all(
      subs.map((s, i) => s.call<{ ms: number }>("open", { url: server.url, count: counts[i]!, connections: fanout.connectionsPerProcess, collection: COLLECTION })),
    );
    const openMs = Math.max(...opened.map((o) => o.ms));
    context.log(`fan-out ${subscribers}: ${subscribers} streams open in ${Math.round(openMs)} ms`);
    const pids = [server.pid];
    const generatorPids = workers.map((w) => w.pid);

    const results = await interleave<FanoutRound>(
      context.config,
      {
        server: async ({ index }) => {
          const plan = { round: index, t0: nowMs() + 300, periodMs: fanout.periodMs, commits: fanout.commitsPerRound };
          await Promise.all(subs.map((s) => s.call("expect", plan)));
          const serverCpu = new CpuMeter(pids);
          const generatorCpu = new CpuMeter(generatorPids);
          const deadline = plan.t0 + plan.commits * plan.periodMs + fanout.drainMs;
          const [written, ...collected] = await Promise.all([
            writer.call<OpenLoopResult>("run", { ...plan, collection: COLLECTION, deadline }),
            ...subs.map((s) => s.call<RoundResult>("collect", plan.round, deadline)),
          ]);
          const w = written as OpenLoopResult;
          if (w.failed > 0) context.log(`fan-out ${subscribers}: ${w.failed} pushes failed: ${w.firstFailure}`);
          const rounds = collected as RoundResult[];
          const all = new Float64Array(rounds.reduce((n, r) => n + r.latencies.length, 0));
          let offset = 0;
          for (const r of rounds) {
            all.set(r.latencies, offset);
            offset += r.latencies.length;
          }
          const delivery = latencies(all);
          const acks = latencies(w.latencies.filter((x) => !Number.isNaN(x)));
          const serverSeconds = serverCpu.seconds();
          const missing = rounds.reduce((n, r) => n + r.missing, 0);
          return {
            p50: delivery.p50,
            p99: delivery.p99,
            max: delivery.max,
            delivered: delivery.count - missing,
            missing,
            duplicates: rounds.reduce((n, r) => n + r.duplicates, 0),
            ackP50: acks.p50,
            ackP99: acks.p99,
            ackFailed: w.failed,
            ackTimedOut: w.timedOut,
            writerLateMs: w.lateStartMs,
            serverCores: serverCpu.cores(),
            generatorCores: generatorCpu.cores(),
            deliveriesPerCpuSecond: serverSeconds > 0 ? (delivery.count - missing) / serverSeconds : Number.NaN,
          };
        },
      },
      (line) => context.log(`fan-out ${subscribers}: ${line}`),
    );
    const health = await Promise.all(subs.map((s) => s.call<{ reconnects: number; errors: number; lastError?: string }>("health")));
    const lastStreamError = health.find((h) => h.lastError)?.lastError;
    return {
      subscribers,
      processes,
      connections: processes * Math.min(fanout.connectionsPerProcess, Math.ceil(subscribers / processes)),
      openMs,
      rounds: results.server!,
      reconnects: health.reduce((n, h) => n + h.reconnects, 0),
      streamErrors: health.reduce((n, h) => n + h.errors, 0),
      ...(lastStreamError ? { lastStreamError } : {}),
    };
  } finally {
    await stopAll(workers);
    await context.stopServer(server);
  }
}

function levelMetrics(level: FanoutLevel, ackAt100: number | undefined): Metric[] {
  const k = level.subscribers;
  const p50 = figure(`delivery p50, ${k} subscribers`, "ms", level.rounds.map((r) => r.p50));
  const p99 = figure(`delivery p99, ${k} subscribers`, "ms", level.rounds.map((r) => r.p99));
  const missing = figure(`missing deliveries, ${k} subscribers`, "deliveries", level.rounds.map((r) => r.missing));
  const ackP99 = figure(`push acknowledgement p99, ${k} subscribers`, "ms", level.rounds.map((r) => r.ackP99));
  const nothingMissing = { text: "nothing missing", met: missing.summary.max === 0 };
  const expected = level.rounds.reduce((n, r) => n + r.delivered + r.missing, 0);
  const lost = level.rounds.reduce((n, r) => n + r.missing, 0);
  const timedOut = level.rounds.reduce((n, r) => n + r.ackTimedOut, 0);
  const lowerBound =
    lost > 0
      ? `${lost.toLocaleString("en-US")} of ${expected.toLocaleString("en-US")} deliveries (${((lost / expected) * 100).toFixed(1)} %) had not arrived by the round's deadline; they count at the time waited, so these percentiles are lower bounds.`
      : undefined;
  const ackNote = timedOut > 0 ? `${timedOut} pushes were not acknowledged by the round's deadline; they count at the time waited (a lower bound).` : undefined;
  const metrics: Metric[] = [
    { id: `fanout.${k}.p50`, label: `fan-out to ${k}: delivery p50`, subject: p50, ...(lowerBound ? { note: lowerBound } : {}) },
    {
      id: `fanout.${k}.p99`,
      label: `fan-out to ${k}: delivery p99`,
      subject: p99,
      ...(lowerBound ? { note: lowerBound } : {}),
      ...(k === 1000 ? { target: atMost(p99, 50, "≤ 50 ms") } : k === 5000 ? { target: atMost(p99, 250, "≤ 250 ms") } : {}),
    },
    { id: `fanout.${k}.missing`, label: `fan-out to ${k}: missing deliveries`, subject: missing, ...(k === 1000 ? { target: nothingMissing } : {}) },
  ];
  const ack: Metric = { id: `fanout.${k}.ack-p99`, label: `fan-out to ${k}: push acknowledgement p99`, subject: ackP99, ...(ackNote ? { note: ackNote } : {}) };
  if (k === 1000 && ackAt100 !== undefined) {
    const limit = 2 * ackAt100;
    metrics.push({ ...ack, target: atMost(ackP99, limit, `≤ 2× the 100-subscriber figure (${limit.toFixed(1)} ms)`) });
  } else {
    metrics.push(ack);
  }
  return metrics;
}

export const fanoutWorkload: Workload = {
  id: "fanout",
  title: "Fan-out latency",
  async run(context) {
    const levels: FanoutLevel[] = [];
    for (const k of context.config.fanout.subscribers) levels.push(await runLevel(context, k));
    const at100 = levels.find((l) => l.subscribers === 100);
    const ackAt100 = at100 ? summarize(at100.rounds.map((r) => r.ackP99)).median : undefined;
    const context_: Record<string, string | number> = {};
    for (const level of levels) {
      const k = level.subscribers;
      context_[`${k} subscribers: processes × connections`] = `${level.processes} processes, ${level.connections} HTTP/2 connections`;
      context_[`${k} subscribers: server CPU (cores busy)`] = summarize(level.rounds.map((r) => r.serverCores)).median;
      context_[`${k} subscribers: generator CPU (cores busy)`] = summarize(level.rounds.map((r) => r.generatorCores)).median;
      context_[`${k} subscribers: deliveries per server CPU-second`] = Math.round(summarize(level.rounds.map((r) => r.deliveriesPerCpuSecond)).median);
      context_[`${k} subscribers: streams resumed / errors`] = `${level.reconnects} / ${level.streamErrors}${level.lastStreamError ? ` (last: ${level.lastStreamError})` : ""}`;
    }
    return {
      id: "fanout",
      title: "Fan-out latency",
      method:
        `One writer process commits one 150-byte change every ${context.config.fanout.periodMs} ms on an open-loop schedule ` +
        `(${context.config.fanout.commitsPerRound} commits per round); K Subscribe streams (Connect, binary, HTTP/2, connect-node's default ` +
        `compression) spread over generator processes and connections record when each commit arrives. Latency is measured from the ` +
        `commit's intended send time on the machine's monotonic clock; a delivery not there ${context.config.fanout.drainMs} ms after the ` +
        "round's last commit counts as missing, and in the percentiles at the time waited (a lower bound); pushes not acknowledged by " +
        "then are aborted and count the same way. A fresh server per K.",
      metrics: levels.flatMap((l) => levelMetrics(l, ackAt100)),
      context: context_,
      raw: levels,
      profiles: context.takeProfiles(),
    };
  },
};
