import { describe, expect, it } from "vitest";
import { nowMs } from "./clock.js";
import { deliveryLatencies, openLoop } from "./open-loop.js";

describe("openLoop", () => {
  it("keeps to its schedule while calls are slow, and measures them from their intended start", async () => {
    // A server that takes 4 periods to answer. A closed loop would send every
    // 4 periods and report ~4 periods each; the open loop sends on time, and
    // latencies grow to show the queue that a slow server builds.
    const period = 50;
    const starts: number[] = [];
    let busyUntil = 0;
    const t0 = nowMs() + 20;
    const result = await openLoop(t0, period, 6, async (i) => {
      starts[i] = nowMs();
      const begin = Math.max(nowMs(), busyUntil);
      busyUntil = begin + 4 * period; // one request at a time, 4 periods each
      await new Promise((r) => setTimeout(r, busyUntil - nowMs()));
    });
    // Sent on schedule (a closed loop would be 3 periods late from the second call on).
    for (let i = 0; i < 6; i++) expect(starts[i]! - (t0 + i * period)).toBeLessThan(2 * period);
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

describe("openLoop with a deadline", () => {
  it("stops waiting at the deadline and counts what is still out at the time waited, not as a failure", async () => {
    // A server that never answers the last two calls: without a deadline the
    // round would wait for ever; the open loop gives up at the deadline and
    // reports those calls as timed out, with their latency a lower bound.
    const t0 = nowMs() + 5;
    const deadline = t0 + 200;
    const started = nowMs();
    const result = await openLoop(
      t0,
      10,
      4,
      (i, signal) =>
        i < 2
          ? Promise.resolve()
          : new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted")))),
      { deadline },
    );
    expect(nowMs() - started).toBeLessThan(1000);
    expect(result.timedOut).toBe(2);
    expect(result.failed).toBe(0);
    expect(result.latencies[3]!).toBeCloseTo(deadline - (t0 + 30), 0);
  });
});

describe("deliveryLatencies", () => {
  it("counts what never came at the time waited when given the deadline", () => {
    const arrivals = Float64Array.from([1010, Number.NaN]);
    const { latencies, missing } = deliveryLatencies(arrivals, 2, 1000, 50, 1500);
    expect(missing).toBe(1);
    expect(Array.from(latencies)).toEqual([10, 450]);
  });

  it("measures each arrival from its call's intended start and counts what never came", () => {
    // Two receivers × three calls at t0 = 1000, period 50.
    const arrivals = Float64Array.from([1010, 1060, Number.NaN, 1200, 1205, 1210]);
    const { latencies, missing } = deliveryLatencies(arrivals, 3, 1000, 50);
    expect(missing).toBe(1);
    expect(Array.from(latencies)).toEqual([10, 10, 200, 155, 110]);
  });
});
