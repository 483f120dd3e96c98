// The README's headline ratios: a short block between two markers that each
// full run of the bench rewrites.
import { formatWithUnit } from "./format.js";
import type { RunReport } from "./run-report.js";

export const BEGIN = "<!-- bench:headline:begin -->";
export const END = "<!-- bench:headline:end -->";

export function headline(report: RunReport): string {
  const load = Math.max(report.loadBefore[0]!, report.loadAfter[0]!);
  const busy = load > report.machine.cores / 2 ? ` **The machine was busy (load average ${load.toFixed(1)} on ${report.machine.cores} cores): noisy figures.**` : "";
  const lines = [
    `Measured by \`${report.command}\` on ${report.startedAt.slice(0, 10)} (${report.machine.cores} cores, ${report.machine.cpuModel}); ` +
      `every figure with its spread and method in [docs/BENCHMARKS.md](docs/BENCHMARKS.md).${busy}`,
    "",
    "| measure | median | target | |",
    "|---|---|---|---|",
  ];
  for (const workload of report.workloads) {
    for (const metric of workload.metrics) {
      if (!metric.target) continue;
      const figure = metric.ratio && !metric.id.startsWith("fanout") && !metric.id.startsWith("idle") ? metric.ratio : metric.subject;
      const verdict = metric.target.met === undefined ? "" : metric.target.met ? "met" : "not met";
      lines.push(`| ${metric.label} | ${formatWithUnit(figure.summary.median, figure.unit)} | ${metric.target.text} | ${verdict} |`);
    }
  }
  return lines.join("\n");
}

/** The README with the block between the markers replaced; throws if the markers are missing. */
export function withHeadline(readme: string, block: string): string {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`README.md has no ${BEGIN} … ${END} block`);
  return `${readme.slice(0, begin + BEGIN.length)}\n${block}\n${readme.slice(end)}`;
}
