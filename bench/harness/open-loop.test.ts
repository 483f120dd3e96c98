import { describe, expect, it } from "vitest";
import { nowMs } from "./clock.js";
import { deliveryLatencies, openLoop } from "./open-loop.js";

describe("openLoop", () => {
  it("keeps to its schedule while calls are slow, and measures them from their intended start", async () => {
    // A server that takes 4 periods to answer. A closed loop would send every
    // 4 periods and report ~4 periods each; the open loop sends on time, and
    // latencies grow to show the queue that a slow server builds.
    const period = 20;
    const starts: number[] = [];
    let busyUntil = 0;
    const t0 = nowMs() + 20;
    const result = await openLoop(t0, period, 6, async (i) => {
      starts[i] = nowMs();
      const begin = Math.max(nowMs(), busyUntil);
      busyUntil = begin + 4 * period; // one request at a time, 4 periods each
      await new Promise((r) => setTimeout(r, busyUntil - nowMs()));
    });
    for (let i = 0; i < 6; i++) expect(starts[i]! - (t0 + i * period)).toBeLessThan(period); // sent on schedule
    expect(result.failed).toBe(0);
    // Call i ends at about t0 + 4·period·(i+1); from its intended start that is 4·period + 3·period·i.
    expect(result.latencies[5]!).toBeGreaterThan(4 * period + 3 * period * 5 - period);
    expect(result.latencies[5]!).toBeGreaterThan(result.latencies[0]! * 3);
  });

  it("counts failures without stopping the schedule", async () => {
    const result = await openLoop(nowMs(), 5, 4, async (i) => {
      if (i % 2 === 1) throw new Error(`no ${i}`);
    });
    expect(result.failed).toBe(2);
    expect(result.firstFailure).toBe("no 1");
    expect(Number.isNaN(result.latencies[1]!)).toBe(true);
    expect(Number.isFinite(result.latencies[2]!)).toBe(true);
  });
});

describe("deliveryLatencies", () => {
  it("measures each arrival from its call's intended start and counts what never came", () => {
    // Two receivers × three calls at t0 = 1000, period 50.
    const arrivals = Float64Array.from([1010, 1060, Number.NaN, 1200, 1205, 1210]);
    const { latencies, missing } = deliveryLatencies(arrivals, 3, 1000, 50);
    expect(missing).toBe(1);
    expect(Array.from(latencies)).toEqual([10, 10, 200, 155, 110]);
  });
});
