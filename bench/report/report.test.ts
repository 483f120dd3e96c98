import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeReport } from "../run.js";
import { figure, ratio, atLeast, atMost } from "../workloads/metrics.js";
import type { FanoutLevel } from "../workloads/fanout.js";
import type { WorkloadReport } from "../workloads/types.js";
import { fanoutChart } from "./fanout-chart.js";
import { formatWithUnit } from "./format.js";
import { renderMarkdown } from "./markdown.js";
import { BEGIN, END, headline, withHeadline } from "./readme.js";
import type { RunReport } from "./run-report.js";

const server = figure("server", "changes/s", [100, 120, 110, 90, 105]);
const level = figure("raw level", "changes/s", [1000, 1000, 1000, 1000, 1000]);
const pushRatio = ratio(server, level, "server / raw level");
const p99 = figure("delivery p99", "ms", [40, 45, 60, 42, 44]);

function fanoutLevel(subscribers: number, p50: number, p99: number): FanoutLevel {
  const round = { p50, p99, max: p99 * 2, delivered: 100, missing: 0, duplicates: 0, ackP50: 1, ackP99: 2, ackFailed: 0, ackTimedOut: 0, writerLateMs: 0, serverCores: 0.5, generatorCores: 0.2, deliveriesPerCpuSecond: 1000 };
  return { subscribers, processes: 1, connections: 1, openMs: 10, reconnects: 0, streamErrors: 0, rounds: [round, { ...round, p99: p99 * 1.5 }] };
}

const workloads: WorkloadReport[] = [
  {
    id: "push",
    title: "Push",
    method: "pushes <things>",
    metrics: [{ id: "push.batch100", label: "push, batches of 100", subject: server, baseline: level, ratio: pushRatio, target: atLeast(pushRatio, 1 / 3, "≥ 1/3 of raw level") }],
    context: { "server CPU (cores busy)": 0.97 },
    profiles: [],
  },
  {
    id: "fanout",
    title: "Fan-out latency",
    method: "fans out",
    metrics: [{ id: "fanout.1000.p99", label: "fan-out to 1000: delivery p99", subject: p99, target: atMost(p99, 50, "≤ 50 ms") }],
    context: {},
    raw: [fanoutLevel(1, 2, 5), fanoutLevel(100, 5, 20), fanoutLevel(1000, 30, 44)],
    profiles: [],
  },
];

const report: RunReport = {
  startedAt: "2030-01-02T03:04:05.000Z",
  durationMs: 600_000,
  command: "npm run bench",
  mode: "full",
  warmup: 1,
  rounds: 5,
  machine: { cpuModel: "Test CPU", cores: 2, memoryGiB: 24, freeMemoryGiB: 20, node: "v20.0.0", kernel: "linux 6" },
  loadBefore: [0.1, 0.2, 0.3],
  loadAfter: [3.5, 1, 0.5],
  workloads,
  failures: [{ id: "growth", error: "Error: it broke" }],
  profileSummaries: {},
};

describe("the Markdown report", () => {
  const markdown = renderMarkdown(report, "chart.svg");

  it("names the command, date, machine and load, and says when the machine was busy", () => {
    expect(markdown).toContain("`npm run bench`");
    expect(markdown).toContain("2030-01-02T03:04:05.000Z");
    expect(markdown).toContain("Test CPU, 2 cores, 24 GiB memory; Node v20.0.0");
    expect(markdown).toContain("0.10 / 0.20 / 0.30 before, 3.50 / 1.00 / 0.50 after");
    expect(markdown).toMatch(/busy with other work/);
  });

  it("decides targets on the median: the push ratio 0.105 is not met, the p99 of 44 ms is", () => {
    expect(markdown).toMatch(/\| Push \| push, batches of 100 \| 0\.105× \| ≥ 1\/3 of raw level \| \*\*not met\*\* \|/);
    expect(markdown).toMatch(/\| Fan-out latency \| fan-out to 1000: delivery p99 \| 44\.0 ms \| ≤ 50 ms \| \*\*met\*\* \|/);
  });

  it("shows each metric with its spread, baseline and paired ratio", () => {
    expect(markdown).toContain("| push, batches of 100 | 105 changes/s | 90.0–120 | 1,000 changes/s (1,000–1,000) | 0.105× (0.0900–0.120) |");
  });

  it("lists a failed workload instead of dropping it silently", () => {
    expect(markdown).toContain("## Failed workloads");
    expect(markdown).toContain("- growth: Error: it broke");
  });

  it("embeds the fan-out chart in the fan-out section", () => {
    expect(markdown).toContain("![Fan-out latency against subscriber count](chart.svg)");
  });
});

describe("the fan-out chart", () => {
  const svg = fanoutChart(workloads[1]!.raw as FanoutLevel[]);

  it("is one SVG document with both series, whiskers and the 1000-subscriber target", () => {
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain("target: p99 ≤ 50 ms at 1000");
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  });

  it("draws no target for a subscriber count the run did not have", () => {
    expect(svg).not.toContain("at 5000");
  });

  it("marks a level where deliveries went missing as a lower bound", () => {
    expect(svg).not.toContain("lower bound");
    const collapsed = fanoutLevel(5000, 900, 1000);
    const marked = fanoutChart([...(workloads[1]!.raw as FanoutLevel[]), { ...collapsed, rounds: collapsed.rounds.map((r) => ({ ...r, missing: 10 })) }]);
    expect(marked).toContain("lower bound");
    expect(marked).toContain("delivery p50, 5000 subscribers: at least 900.0 ms");
  });
});

describe("the README headline block", () => {
  it("replaces only what is between the markers", () => {
    const readme = `intro\n${BEGIN}\nold figures\n${END}\noutro\n`;
    const updated = withHeadline(readme, headline(report));
    expect(updated.startsWith(`intro\n${BEGIN}\n`)).toBe(true);
    expect(updated.endsWith(`${END}\noutro\n`)).toBe(true);
    expect(updated).not.toContain("old figures");
    expect(updated).toContain("| push, batches of 100 | 0.105× | ≥ 1/3 of raw level | not met |");
  });

  it("says when the machine was busy, so loaded figures are not read as final", () => {
    expect(headline(report)).toContain("The machine was busy (load average 3.5 on 2 cores)");
    expect(headline({ ...report, loadAfter: [0.2, 0.2, 0.2] })).not.toContain("busy");
  });

  it("refuses a README without the markers instead of appending somewhere", () => {
    expect(() => withHeadline("no markers here", "x")).toThrow(/bench:headline/);
  });
});

describe("formatting", () => {
  it("prints rates with separators, small figures with three significant digits", () => {
    expect(formatWithUnit(123456.7, "changes/s")).toBe("123,457 changes/s");
    expect(formatWithUnit(0.04321, "×")).toBe("0.0432×");
    expect(formatWithUnit(Number.NaN, "ms")).toBe("– ms");
  });
});

describe("re-rendering a run from its JSON (--render)", () => {
  it("gives the same report as the run wrote", () => {
    const dir = mkdtempSync(join(tmpdir(), "bench-render-"));
    try {
      writeReport(report, { mode: "full" }, dir, false, () => {});
      const first = readFileSync(join(dir, "BENCHMARKS.md"), "utf8");
      const chart = readFileSync(join(dir, "benchmarks-fanout.svg"), "utf8");
      const { config, ...again } = JSON.parse(readFileSync(join(dir, "benchmarks.json"), "utf8")) as RunReport & { config: object };
      expect(config).toEqual({ mode: "full" });
      writeReport(again, config, dir, false, () => {});
      expect(readFileSync(join(dir, "BENCHMARKS.md"), "utf8")).toBe(first);
      expect(readFileSync(join(dir, "benchmarks-fanout.svg"), "utf8")).toBe(chart);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
