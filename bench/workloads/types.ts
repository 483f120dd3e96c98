// What every workload returns: metrics (each a figure per round, summarized),
// each optionally against a baseline and a target, for the report writers.
import type { BenchConfig } from "../config.js";
import type { BenchServer, ServerOptions } from "../harness/server-process.js";
import type { Summary } from "../harness/stats.js";

export interface Target {
  /** As the issue states it, e.g. "≥ 1/3 of raw level". */
  readonly text: string;
  /** Decided on the median; undefined when the figure is missing. */
  readonly met: boolean | undefined;
}

export interface Figure {
  readonly label: string;
  readonly unit: string;
  readonly rounds: number[];
  readonly summary: Summary;
}

export interface Metric {
  /** Stable key for the JSON and the README, e.g. "push.batch100". */
  readonly id: string;
  readonly label: string;
  readonly subject: Figure;
  readonly baseline?: Figure;
  /** subject / baseline per round (paired), or another ratio the target reads. */
  readonly ratio?: Figure;
  readonly target?: Target;
  readonly note?: string;
}

export interface WorkloadReport {
  readonly id: string;
  readonly title: string;
  /** How it is measured, in a sentence or two, for the report. */
  readonly method: string;
  readonly metrics: Metric[];
  /** Figures that are context rather than results (server CPU, sizes), by name. */
  readonly context: Record<string, string | number>;
  /** Raw per-round data that does not fit a metric. */
  readonly raw?: unknown;
  /** Paths of CPU profiles of the server, when profiling. */
  readonly profiles: string[];
}

export interface BenchContext {
  readonly config: BenchConfig;
  /** Progress lines (stderr). */
  log(line: string): void;
  /** Starts a server under test; profiled when the run profiles. */
  startServer(options: Omit<ServerOptions, "profileDir">): Promise<BenchServer>;
  /** Stops it and records its profile. */
  stopServer(server: BenchServer, options?: { keepData?: boolean }): Promise<void>;
  /** Profiles recorded since the workload began. */
  takeProfiles(): string[];
}

export interface Workload {
  readonly id: string;
  readonly title: string;
  run(context: BenchContext): Promise<WorkloadReport>;
}
