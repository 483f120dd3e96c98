import { describe, expect, it } from "vitest";
import { filteredMetrics, type CatchUpCost } from "./filtered-metrics.js";

const cost = (serverCpuMs: number, databaseCpuMs: number, wallMs: number, pages: number): CatchUpCost => ({ serverCpuMs, databaseCpuMs, wallMs, pages });
const sizes = { documents: 100_000, hot: 1_000, fillMs: 4_000 };

describe("filteredMetrics", () => {
  it("judges the target on the CPU ratio round by round, and gives the CPU per document", () => {
    const { metrics, context } = filteredMetrics(
      { id: "level", name: "LevelDB" },
      {
        full: [cost(1000, 0, 1500, 101), cost(1200, 0, 1600, 101), cost(1100, 0, 1550, 101)],
        filtered: [cost(15, 0, 30, 2), cost(12, 0, 20, 2), cost(33, 0, 25, 2)],
      },
      sizes,
    );
    const [cpu, wall] = metrics;
    expect(cpu!.id).toBe("filtered.level.cpu");
    // Paired: 15/1000, 12/1200, 33/1100; median 0.015, not 15/1100 of the medians.
    expect(cpu!.ratio!.rounds).toEqual([0.015, 0.01, 0.03]);
    expect(cpu!.ratio!.summary.median).toBeCloseTo(0.015, 10);
    expect(cpu!.target).toEqual({ text: "≤ 0.02 (about the 1 % that matches)", met: true });
    expect(wall!.id).toBe("filtered.level.wall");
    expect(wall!.target).toBeUndefined();
    expect(wall!.ratio!.rounds.map((r) => Number(r.toFixed(4)))).toEqual([0.02, 0.0125, 0.0161]);
    expect(context["LevelDB: CPU per matching document, filtered (µs)"]).toBe(15);
    expect(context["LevelDB: CPU per document, full (µs)"]).toBe(11);
    expect(context["LevelDB: pages per catch-up, filtered / full"]).toBe("2 / 101");
    expect(context["LevelDB: load rate (changes/s, 2 pushes of 500 in flight, index maintained)"]).toBe(25_000);
  });

  it("counts PostgreSQL's backends in the cost, and misses the target when filtering saves too little", () => {
    const { metrics, context } = filteredMetrics(
      { id: "postgres", name: "PostgreSQL" },
      { full: [cost(600, 400, 2000, 101), cost(600, 400, 2000, 101)], filtered: [cost(30, 20, 60, 2), cost(40, 30, 60, 2)] },
      sizes,
    );
    const [cpu] = metrics;
    expect(cpu!.subject.rounds).toEqual([50, 70]);
    expect(cpu!.baseline!.rounds).toEqual([1000, 1000]);
    expect(cpu!.target!.met).toBe(false); // median 0.06
    expect(context["PostgreSQL: PostgreSQL backends' share of the CPU, filtered / full"]).toBe("0.414 / 0.4");
  });

  it("says so when PostgreSQL's backends could not be metered, rather than calling the server's CPU the whole cost", () => {
    const { metrics, context } = filteredMetrics({ id: "postgres", name: "PostgreSQL" }, { full: [cost(600, 0, 900, 101)], filtered: [cost(9, 0, 20, 1)] }, sizes, false);
    expect(metrics[0]!.label).toMatch(/^PostgreSQL: server CPU per catch-up/);
    expect(context["PostgreSQL: PostgreSQL's own CPU"]).toMatch(/^not measured/);
    expect(Object.keys(context).some((k) => k.includes("share"))).toBe(false);
  });

  it("leaves the target undecided when a round has no figure", () => {
    const { metrics } = filteredMetrics({ id: "level", name: "LevelDB" }, { full: [], filtered: [] }, sizes);
    expect(metrics[0]!.target!.met).toBeUndefined();
  });
});
