// The smoke test of `npm run bench`: every workload runs at tiny size against
// real server, generator and baseline processes, so none can rot unnoticed,
// and the report writers render what they produced. Figures from it mean
// nothing (the workloads run three at a time on a busy test machine).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configFor } from "./config.js";
import { createContext } from "./harness/context.js";
import { ensurePeers } from "./harness/peers.js";
import { killAll } from "./harness/processes.js";
import { fanoutChart } from "./report/fanout-chart.js";
import { renderMarkdown } from "./report/markdown.js";
import { WORKLOADS, runBench } from "./run.js";
import { benchPostgresUrl } from "./workloads/cluster.js";
import type { FanoutLevel } from "./workloads/fanout.js";
import type { WorkloadReport } from "./workloads/types.js";

const CONCURRENCY = 3;
// The cluster workload needs PostgreSQL: without one it is left out here,
// except in CI, which must run it.
const BENCHED = WORKLOADS.filter((w) => w.id !== "cluster" || benchPostgresUrl() || process.env.CI);
const runs = new Map<string, Promise<WorkloadReport>>();
const logs = new Map<string, string[]>();

/** Starts every workload, at most CONCURRENCY at once; each test awaits its own. */
function startAll(): void {
  let active = 0;
  const queue: Array<() => void> = [];
  const slot = () => (active < CONCURRENCY ? (active++, Promise.resolve()) : new Promise<void>((r) => queue.push(() => (active++, r()))));
  const release = () => {
    active--;
    queue.shift()?.();
  };
  for (const workload of BENCHED) {
    const lines: string[] = [];
    logs.set(workload.id, lines);
    const context = createContext(configFor("smoke"), { log: (line) => lines.push(line) });
    // The cluster workload loads the machine with servers and PostgreSQL:
    // after the others, not alongside them.
    const after = workload.id === "cluster" ? Promise.allSettled([...runs.values()]) : Promise.resolve();
    const run = after.then(slot).then(() => workload.run(context).finally(release));
    run.catch(() => undefined); // awaited (and reported) by its test
    runs.set(workload.id, run);
  }
}

async function result(id: string): Promise<WorkloadReport> {
  try {
    return await runs.get(id)!;
  } catch (error) {
    throw new Error(`${id} failed: ${(error as Error).stack}\n--- its log ---\n${logs.get(id)!.slice(-30).join("\n")}`);
  }
}

describe("npm run bench, every workload at tiny size", () => {
  beforeAll(() => {
    ensurePeers(); // PouchDB for the app-level workload: npm ci on the first run only
    startAll();
  }, 180_000);
  afterAll(() => killAll());

  for (const workload of BENCHED) {
    it(`${workload.id} runs and reports every metric with a figure per round`, async () => {
      const report = await result(workload.id);
      expect(report.id).toBe(workload.id);
      expect(report.metrics.length).toBeGreaterThan(0);
      const { rounds } = configFor("smoke");
      for (const metric of report.metrics) {
        for (const f of [metric.subject, metric.baseline, metric.ratio]) {
          if (!f) continue;
          expect(f.rounds, `${metric.id}: ${f.label}`).toHaveLength(rounds);
          for (const value of f.rounds) expect(Number.isFinite(value), `${metric.id}: ${f.label} = ${value}`).toBe(true);
        }
        if (metric.target) expect(metric.target.met, `${metric.id} target decided`).toBeTypeOf("boolean");
      }
    }, 120_000);
  }

  it("the report renders every workload, the fan-out chart and the targets", async () => {
    const reports = await Promise.all(BENCHED.map((w) => result(w.id)));
    const fanout = reports.find((r) => r.id === "fanout")!;
    const levels = fanout.raw as FanoutLevel[];
    expect(levels.map((l) => l.subscribers)).toEqual(configFor("smoke").fanout.subscribers);
    for (const level of levels) expect(level.rounds.every((r) => r.missing === 0), `fan-out to ${level.subscribers}: nothing missing`).toBe(true);
    expect(fanoutChart(levels)).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    const markdown = renderMarkdown(
      {
        startedAt: new Date().toISOString(), durationMs: 1, command: "npm run bench -- --smoke", mode: "smoke", warmup: 1, rounds: 2,
        machine: { cpuModel: "x", cores: 2, memoryGiB: 1, freeMemoryGiB: 1, node: process.version, kernel: "x" },
        loadBefore: [0, 0, 0], loadAfter: [0, 0, 0], workloads: reports, failures: [], profileSummaries: {},
      },
      "chart.svg",
    );
    for (const r of reports) expect(markdown).toContain(`## ${r.title}`);
    for (const id of ["push.batch100", "catch-up", "filtered.level.cpu", "connect-pull", "idle.rss", "app.push", "app.pull.wire"]) {
      const metric = reports.flatMap((r) => r.metrics).find((m) => m.id === id);
      expect(metric?.target, id).toBeDefined();
    }
  }, 180_000);
});

describe("npm run bench -- --only, with --profile", () => {
  it("writes the report files, profiles the server and summarizes the profile", async () => {
    const out = mkdtempSync(join(tmpdir(), "bench-smoke-out-"));
    const profileDirs = new Set<string>();
    try {
      await result("document-encoding"); // after the workloads above, not alongside them
      const report = await runBench({ mode: "smoke", only: ["connect-pull"], profile: true, outDir: out, updateReadme: false, command: "test", log: () => {} });
      for (const path of Object.keys(report.profileSummaries)) profileDirs.add(dirname(path));
      expect(report.failures).toEqual([]);
      expect(profileDirs.size).toBe(1);
      const markdown = readFileSync(join(out, "BENCHMARKS.md"), "utf8");
      expect(markdown).toContain("## Connect JSON Pull of 20 documents");
      expect(markdown).toMatch(/CPU profile of the server: `[^`]+\.cpuprofile`/);
      expect(markdown).toMatch(/self ms\s+busy %/);
      const json = JSON.parse(readFileSync(join(out, "benchmarks.json"), "utf8")) as { workloads: Array<{ id: string }>; machine: { cores: number } };
      expect(json.workloads.map((w) => w.id)).toEqual(["connect-pull"]);
      expect(json.machine.cores).toBeGreaterThan(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
      for (const dir of profileDirs) rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
