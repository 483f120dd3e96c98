// The filtered catch-up's figures (bench/workloads/filtered.ts), built from
// its rounds: kept apart from the processes so that they can be checked alone.
import { summarize } from "../harness/stats.js";
import { atMost, figure, ratio } from "./metrics.js";
import type { Metric } from "./types.js";

/** "≤ 0.02": the 1 % that matches, with room for the requests' own cost. */
export const TARGET = 0.02;

export interface StorageName {
  readonly id: "level" | "postgres";
  /** As the report names it: "LevelDB", "PostgreSQL". */
  readonly name: string;
}

/** What one catch-up cost, averaged over the catch-ups of a round. */
export interface CatchUpCost {
  readonly wallMs: number;
  readonly serverCpuMs: number;
  /** PostgreSQL's backends for this server; 0 on LevelDB. */
  readonly databaseCpuMs: number;
  readonly pages: number;
}

export const totalCpuMs = (cost: CatchUpCost): number => cost.serverCpuMs + cost.databaseCpuMs;

export interface Measured {
  readonly metrics: Metric[];
  readonly context: Record<string, string | number>;
}

/**
 * The metrics of one storage from its rounds: CPU per catch-up (the cost,
 * with the target on filtered / full) and wall time, and per-document figures.
 */
export function filteredMetrics(
  storage: StorageName,
  rounds: Readonly<Record<string, readonly CatchUpCost[]>>,
  sizes: { readonly documents: number; readonly hot: number; readonly fillMs: number },
  /** Whether PostgreSQL's backends were metered (only on this machine). */
  databaseMetered = storage.id === "postgres",
): Measured {
  const { documents, hot } = sizes;
  const full = rounds.full!;
  const filtered = rounds.filtered!;
  const cost = databaseMetered ? "CPU of server + PostgreSQL" : "server CPU";
  const cpuFiltered = figure(`filtered catch-up (${hot} documents), ${cost}`, "ms", filtered.map(totalCpuMs));
  const cpuFull = figure(`full catch-up (${documents} documents), ${cost}`, "ms", full.map(totalCpuMs));
  const cpuRatio = ratio(cpuFiltered, cpuFull, "filtered / full");
  const wallFiltered = figure(`filtered catch-up (${hot} documents), wall time`, "ms", filtered.map((c) => c.wallMs));
  const wallFull = figure(`full catch-up (${documents} documents), wall time`, "ms", full.map((c) => c.wallMs));
  const share = `${Number(((hot / documents) * 100).toPrecision(2))} %`;
  const median = (values: number[]) => Number(summarize(values).median.toPrecision(3));
  const prefix = `${storage.name}: `;
  const metrics: Metric[] = [
    {
      id: `filtered.${storage.id}.cpu`,
      label: `${storage.name}: ${cost} per catch-up, filtered to ${share} of ${documents} documents / full`,
      subject: cpuFiltered,
      baseline: cpuFull,
      ratio: cpuRatio,
      target: atMost(cpuRatio, TARGET, `≤ ${TARGET} (about the ${share} that matches)`),
    },
    {
      id: `filtered.${storage.id}.wall`,
      label: `${storage.name}: wall time per catch-up, filtered to ${share} of ${documents} documents / full`,
      subject: wallFiltered,
      baseline: wallFull,
      ratio: ratio(wallFiltered, wallFull, "filtered / full"),
      note: "not what the target reads: it includes the client's decoding and the machine's other work.",
    },
  ];
  const context: Record<string, string | number> = {
    [`${prefix}CPU per matching document, filtered (µs)`]: median(filtered.map((c) => (totalCpuMs(c) * 1000) / hot)),
    [`${prefix}CPU per document, full (µs)`]: median(full.map((c) => (totalCpuMs(c) * 1000) / documents)),
    [`${prefix}pages per catch-up, filtered / full`]: `${median(filtered.map((c) => c.pages))} / ${median(full.map((c) => c.pages))}`,
    [`${prefix}load rate (changes/s, 2 pushes of 500 in flight, index maintained)`]: Math.round((documents * 1000) / sizes.fillMs),
  };
  if (storage.id === "postgres" && !databaseMetered) {
    context[`${prefix}PostgreSQL's own CPU`] = "not measured: the database runs on another machine, so the cost counts the server alone";
  } else if (databaseMetered) {
    context[`${prefix}PostgreSQL backends' share of the CPU, filtered / full`] =
      `${median(filtered.map((c) => c.databaseCpuMs / totalCpuMs(c)))} / ${median(full.map((c) => c.databaseCpuMs / totalCpuMs(c)))}`;
  }
  return { metrics, context };
}

