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
