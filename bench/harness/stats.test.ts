import { describe, expect, it } from "vitest";
import { latencies, pairedRatios, quantile, summarize } from "./stats.js";

describe("stats", () => {
  it("interpolates quantiles between ranks", () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10], 0.99)).toBe(10);
    expect(quantile([0, 100], 0.99)).toBeCloseTo(99);
    expect(Number.isNaN(quantile([], 0.5))).toBe(true);
  });

  it("summarizes unsorted rounds: median, min, max, quartiles", () => {
    const s = summarize([5, 1, 4, 2, 3]);
    expect(s).toEqual({ n: 5, median: 3, min: 1, max: 5, q1: 2, q3: 4 });
  });

  it("sorts numerically, not as strings", () => {
    expect(summarize([100, 9, 20]).median).toBe(20);
    expect(latencies([100, 9, 20, 1000]).max).toBe(1000);
  });

  it("pairs ratios round by round and refuses uneven rounds", () => {
    expect(pairedRatios([10, 30], [5, 10])).toEqual([2, 3]);
    expect(() => pairedRatios([1, 2], [1])).toThrow(/as many rounds/);
  });
});
