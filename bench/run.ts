// `npm run bench`: the honest report. Starts the real server in its own
// process for each workload, loads it from generator processes, runs the
// baselines (raw level, PouchDB + express-pouchdb, bare fastify) in their own
// processes in the same run, and writes docs/BENCHMARKS.md, the fan-out chart,
// docs/benchmarks.json and the README's headline block.
//
//   npm run bench                      full run (under 15 minutes on 2 cores)
//   npm run bench -- --quick           every workload at tiny sizes (or POCKET_BENCH=quick)
//   npm run bench -- --only push,fanout
//   npm run bench -- --only filtered   one workload (an unknown id prints the known ones)
//   npm run bench -- --profile         servers run with --cpu-prof; profiles and their top functions are reported
//   npm run bench -- --out DIR         write the report there instead
//   npm run bench -- --render docs/benchmarks.json
//                                      re-render the report (and the README block) from a run's JSON
//
// The cluster workload (several servers on one PostgreSQL) measures on the
// database at POCKET_BENCH_POSTGRES_URL, else POCKET_TEST_POSTGRES_URL
// (bash scripts/start-postgres.sh prints one); without either it is reported
// as failed and the others run. Its fan-out capacity needs root (cgroups).
// The filtered workload measures on LevelDB, and on that PostgreSQL too when
// one of those variables is set.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { configFor, type Mode } from "./config.js";
import { createContext } from "./harness/context.js";
import { loadAverage, machine } from "./harness/machine.js";
import { killAll, ROOT } from "./harness/processes.js";
import { summarizeProfile } from "./profile-summary.js";
import { fanoutChart } from "./report/fanout-chart.js";
import { renderMarkdown } from "./report/markdown.js";
import { headline, withHeadline } from "./report/readme.js";
import type { RunReport } from "./report/run-report.js";
import { appLevel } from "./workloads/app-level.js";
import { catchUp } from "./workloads/catch-up.js";
import { cluster } from "./workloads/cluster.js";
import { conflicts } from "./workloads/conflicts.js";
import { connectPull } from "./workloads/connect-pull.js";
import { documentEncoding } from "./workloads/document-encoding.js";
import { filteredCatchUp } from "./workloads/filtered.js";
import { fanoutWorkload, type FanoutLevel } from "./workloads/fanout.js";
import { growth } from "./workloads/growth.js";
import { idleMemory } from "./workloads/idle-memory.js";
import { push } from "./workloads/push.js";
import type { Workload, WorkloadReport } from "./workloads/types.js";

export const WORKLOADS: readonly Workload[] = [push, catchUp, filteredCatchUp, connectPull, fanoutWorkload, idleMemory, conflicts, appLevel, growth, documentEncoding, cluster];

export interface RunOptions {
  readonly mode: Mode;
  readonly only?: readonly string[];
  readonly profile?: boolean;
  /** Where BENCHMARKS.md, the chart and the JSON go. */
  readonly outDir: string;
  /** Rewrite the README's headline block (full runs into docs/ only). */
  readonly updateReadme: boolean;
  readonly command: string;
  readonly log?: (line: string) => void;
}

const CHART_FILE = "benchmarks-fanout.svg";

function json(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v instanceof Float64Array ? Array.from(v) : v), 2);
}

export async function runBench(options: RunOptions): Promise<RunReport> {
  const config = configFor(options.mode);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const selected = options.only?.length ? WORKLOADS.filter((w) => options.only!.includes(w.id)) : WORKLOADS;
  const unknown = (options.only ?? []).filter((id) => !WORKLOADS.some((w) => w.id === id));
  if (unknown.length) throw new Error(`unknown workload(s): ${unknown.join(", ")}; known: ${WORKLOADS.map((w) => w.id).join(", ")}`);
  const profileDir = options.profile ? mkdtempSync(join(tmpdir(), "pocket-bench-profiles-")) : undefined;
  if (profileDir) log(`CPU profiles of the servers go to ${profileDir}`);
  const context = createContext(config, { ...(profileDir ? { profileDir } : {}), log });

  const startedAt = new Date();
  const loadBefore = loadAverage();
  const started = performance.now();
  const workloads: WorkloadReport[] = [];
  const failures: Array<{ id: string; error: string }> = [];
  for (const workload of selected) {
    log(`\n== ${workload.title} ==`);
    const begun = performance.now();
    try {
      workloads.push(await workload.run(context));
    } catch (error) {
      // One broken workload must not cost the others' figures: report it.
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      failures.push({ id: workload.id, error: message.split("\n")[0]! });
      log(`${workload.id} FAILED: ${message}`);
      context.takeProfiles();
    }
    log(`${workload.id}: ${((performance.now() - begun) / 1000).toFixed(1)} s`);
  }
  const profileSummaries: Record<string, string> = {};
  for (const w of workloads) for (const p of w.profiles) profileSummaries[p] = summarizeProfile(p, 15);

  const report: RunReport = {
    startedAt: startedAt.toISOString(),
    durationMs: performance.now() - started,
    command: options.command,
    mode: options.mode,
    warmup: config.warmup,
    rounds: config.rounds,
    machine: machine(),
    loadBefore,
    loadAfter: loadAverage(),
    workloads,
    failures,
    profileSummaries,
  };

  writeReport(report, { ...config }, options.outDir, options.updateReadme, log);
  for (const summary of Object.values(profileSummaries)) log(`\n${summary}`);
  return report;
}

/** BENCHMARKS.md, the chart and the JSON into `outDir`; the README's block when asked. */
export function writeReport(report: RunReport, config: object, outDir: string, updateReadme: boolean, log: (line: string) => void): void {
  mkdirSync(outDir, { recursive: true });
  const fanout = report.workloads.find((w) => w.id === "fanout");
  if (fanout) writeFileSync(join(outDir, CHART_FILE), fanoutChart(fanout.raw as FanoutLevel[]));
  writeFileSync(join(outDir, "BENCHMARKS.md"), renderMarkdown(report, fanout ? CHART_FILE : undefined));
  writeFileSync(join(outDir, "benchmarks.json"), `${json({ ...report, config })}\n`);
  if (updateReadme) {
    const readmePath = join(ROOT, "README.md");
    writeFileSync(readmePath, withHeadline(readFileSync(readmePath, "utf8"), headline(report)));
  }
  log(`\nwrote ${join(outDir, "BENCHMARKS.md")}, ${CHART_FILE} and benchmarks.json${updateReadme ? ", and the README's headline" : ""}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean" },
      smoke: { type: "boolean" },
      only: { type: "string" },
      profile: { type: "boolean" },
      out: { type: "string" },
      render: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(readFileSync(new URL(import.meta.url), "utf8").split("\n").filter((l) => l.startsWith("//")).map((l) => l.slice(3)).join("\n"));
    return;
  }
  const docs = join(ROOT, "docs");
  if (values.render) {
    // The figures stay those of the run; only their presentation is new.
    const { config, ...report } = JSON.parse(readFileSync(values.render, "utf8")) as RunReport & { config: object };
    const outDir = resolve(values.out ?? dirname(values.render));
    writeReport(report, config, outDir, report.mode === "full" && outDir === docs, (line) => process.stderr.write(`${line}\n`));
    return;
  }
  const envMode = process.env.POCKET_BENCH;
  const mode: Mode = values.smoke || envMode === "smoke" ? "smoke" : values.quick || envMode === "quick" ? "quick" : "full";
  // Tiny runs never overwrite the committed report.
  const outDir = values.out ?? (mode === "full" ? docs : mkdtempSync(join(tmpdir(), `pocket-bench-${mode}-`)));
  const args = process.argv.slice(2);
  const report = await runBench({
    mode,
    only: values.only?.split(",").map((s) => s.trim()).filter(Boolean) ?? [],
    profile: values.profile ?? false,
    outDir,
    updateReadme: mode === "full" && outDir === docs && !values.only,
    command: `npm run bench${args.length ? ` -- ${args.join(" ")}` : ""}`,
  });
  if (outDir !== docs) console.log(`report: ${relative(process.cwd(), join(outDir, "BENCHMARKS.md")) || outDir}`);
  if (report.failures.length) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  main().catch((error: unknown) => {
    console.error(error);
    killAll();
    process.exit(1);
  });
}
