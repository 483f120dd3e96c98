// Everything one run produced, as the report writers and the JSON take it.
import type { Machine } from "../harness/machine.js";
import type { Mode } from "../config.js";
import type { WorkloadReport } from "../workloads/types.js";

export interface RunReport {
  readonly startedAt: string;
  readonly durationMs: number;
  readonly command: string;
  readonly mode: Mode;
  readonly warmup: number;
  readonly rounds: number;
  readonly machine: Machine;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly workloads: readonly WorkloadReport[];
  /** Workloads that failed, with the error, so a report is still written. */
  readonly failures: ReadonlyArray<{ readonly id: string; readonly error: string }>;
  /** Top self-time functions per CPU profile, when profiling. */
  readonly profileSummaries: Readonly<Record<string, string>>;
}
