// Building metrics from rounds, and deciding targets on their medians.
import { pairedRatios, summarize } from "../harness/stats.js";
import type { Figure, Target } from "./types.js";

export function figure(label: string, unit: string, rounds: readonly number[]): Figure {
  return { label, unit, rounds: [...rounds], summary: summarize(rounds) };
}

/** subject / baseline, round by round: each pair ran back to back. */
export function ratio(subject: Figure, baseline: Figure, label = "subject / baseline"): Figure {
  return figure(label, "×", pairedRatios(subject.rounds, baseline.rounds));
}

export function atLeast(figure: Figure, threshold: number, text: string): Target {
  const median = figure.summary.median;
  return { text, met: Number.isFinite(median) ? median >= threshold : undefined };
}

export function atMost(figure: Figure, threshold: number, text: string): Target {
  const median = figure.summary.median;
  return { text, met: Number.isFinite(median) ? median <= threshold : undefined };
}

/**
 * The server's CPU per operation, and the rate one saturated core would reach
 * at that cost, against the baseline's measured rate. When even that ceiling
 * misses a target, what limits the server is its own CPU per operation (the
 * profile says where it goes), not the load generator, the network or idle
 * time in a closed loop.
 */
export function cpuCeiling(operation: string, subject: Figure, busyCores: readonly number[], baseline: Figure): Record<string, number> {
  // The warm-up round was metered too; the figure's rounds are the last ones.
  const cores = busyCores.slice(-subject.rounds.length);
  const microseconds = summarize(subject.rounds.map((rate, i) => (cores[i]! * 1e6) / rate)).median;
  const ceiling = 1e6 / microseconds;
  return {
    [`server CPU per ${operation} (µs)`]: Number(microseconds.toPrecision(3)),
    [`${operation}s/s at that cost on one saturated core`]: Math.round(ceiling),
    [`that ceiling / the baseline's median`]: Number((ceiling / baseline.summary.median).toPrecision(3)),
  };
}
