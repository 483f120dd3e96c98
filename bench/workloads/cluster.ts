// Several servers on one PostgreSQL (issue 9, docs/SCALING.md): push
// throughput and the delay of cross-server fan-out with 1 server and with N,
// and in full runs as root the live fan-out capacity with each server capped
// to the same CPU share (a cgroup), so that N servers have N times the CPU of
// one. Each round runs scripts/measure-cluster.ts once (its own server
// processes, a fresh schema dropped afterwards) and reads its --json line.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT, track } from "../harness/processes.js";
import { atLeast, figure, ratio } from "./metrics.js";
import type { Metric, Workload } from "./types.js";

const SCRIPT = join(ROOT, "scripts/measure-cluster.ts");

/** Where the cluster workload measures: a PostgreSQL no one else loads, ideally. */
export const benchPostgresUrl = (): string | undefined => process.env.POCKET_BENCH_POSTGRES_URL ?? process.env.POCKET_TEST_POSTGRES_URL;

interface Measured {
  push?: Array<{ instances: number; changesPerSecond: number; p50: number; p99: number }>;
  latency?: Array<{ instances: number; same: { n: number; p50: number }; other: { n: number; p50: number } }>;
  fanout?: Array<{ instances: number; capacity: number }>;
}

function measure(args: readonly string[], log: (line: string) => void): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", SCRIPT, ...args, "--json"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    track(child);
    let out = "";
    let err = "";
    child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      const lines = out.trim().split("\n");
      for (const line of lines.slice(0, -1)) if (line) log(line);
      if (code !== 0) return reject(new Error(`measure-cluster exited with ${code}: ${err.slice(-2000)}`));
      try {
        resolve(JSON.parse(lines.at(-1)!) as Measured);
      } catch {
        reject(new Error(`measure-cluster printed no JSON: ${out.slice(-2000)}`));
      }
    });
  });
}

export const cluster: Workload = {
  id: "cluster",
  title: "Several servers on one PostgreSQL",
  async run(context) {
    const { config, log } = context;
    const url = benchPostgresUrl();
    if (!url) throw new Error("the cluster workload needs PostgreSQL: set POCKET_BENCH_POSTGRES_URL (bash scripts/start-postgres.sh prints one)");
    const { instances, seconds, writers, fanout } = config.cluster;
    const most = Math.max(...instances);
    // cgroups need root; without them N servers would share the CPU of one.
    const capped = fanout && process.getuid?.() === 0 ? fanout : undefined;
    const rounds: Measured[] = [];
    const warmup = config.cluster.rounds ? 0 : config.warmup;
    for (let round = 0; round < warmup + (config.cluster.rounds ?? config.rounds); round++) {
      const modes = capped ? "push,latency,fanout" : "push,latency";
      const args = ["--postgres-url", url, "--mode", modes, "--instances", instances.join(","), "--seconds", String(seconds), "--writers", String(writers)];
      if (capped) args.push("--subscribers", String(capped.subscribers), "--server-cpu", String(capped.serverCpu));
      const measured = await measure(args, (line) => log(`cluster round ${round + 1}: ${line}`));
      if (round >= warmup) rounds.push(measured);
    }
    const at = <T extends { instances: number }>(rows: T[] | undefined, n: number): T => {
      const row = rows?.find((r) => r.instances === n);
      if (!row) throw new Error(`measure-cluster reported nothing for ${n} servers`);
      return row;
    };
    const metrics: Metric[] = [];
    const pushOne = figure("1 server", "changes/s", rounds.map((r) => at(r.push, 1).changesPerSecond));
    const pushMost = figure(`${most} servers`, "changes/s", rounds.map((r) => at(r.push, most).changesPerSecond));
    metrics.push({
      id: "cluster.push",
      label: `push throughput, ${most} servers against 1 (${writers} writers, batches of 10)`,
      subject: pushMost,
      baseline: pushOne,
      ratio: ratio(pushMost, pushOne, `${most} servers / 1`),
      note: "Every commit group in the cluster takes one counter row: writes are not expected to scale out (docs/SCALING.md §1, §5).",
    });
    const sameServer = figure("subscriber on the committing server, p50", "ms", rounds.map((r) => at(r.latency, most).same.p50));
    const otherServer = figure("subscriber on another server, p50", "ms", rounds.map((r) => at(r.latency, most).other.p50));
    metrics.push({
      id: "cluster.latency",
      label: `a pushed change reaching a live subscriber, ${most} servers`,
      subject: otherServer,
      baseline: sameServer,
      ratio: ratio(otherServer, sameServer, "another server / the committing server"),
    });
    if (capped) {
      const one = figure("1 server", "deliveries/s", rounds.map((r) => at(r.fanout, 1).capacity));
      const many = figure(`${most} servers`, "deliveries/s", rounds.map((r) => at(r.fanout, most).capacity));
      const r = ratio(many, one, `${most} servers / 1`);
      metrics.push({
        id: "cluster.fanout",
        label: `live fan-out capacity, ${capped.subscribers} subscribers, each server capped at ${capped.serverCpu} core`,
        subject: many,
        baseline: one,
        ratio: r,
        ...(most === 3 ? { target: atLeast(r, 2.5, "3 servers ≥ 2.5× one") } : {}),
      });
    }
    return {
      id: "cluster",
      title: "Several servers on one PostgreSQL",
      method:
        `scripts/measure-cluster.ts per round, servers on one PostgreSQL schema, clients connected straight to them (no load balancer): ` +
        `${writers} writers in closed loop pushing batches of 10 for ${seconds} s, spread over the servers; then one push of one change every 20 ms, ` +
        `servers in turn, timed from the push's start to a subscriber on each server` +
        (capped ? `; then ${capped.subscribers} subscribers spread over the servers at doubling change rates until they fall behind` : "") +
        ". PostgreSQL runs on the same machine.",
      metrics,
      context: {
        "servers compared": instances.join(", "),
        ...(fanout && !capped ? { "fan-out capacity": "not measured: capping each server's CPU needs root (scripts/measure-cluster.ts --mode fanout)" } : {}),
      },
      raw: rounds,
      profiles: context.takeProfiles(),
    };
  },
};
