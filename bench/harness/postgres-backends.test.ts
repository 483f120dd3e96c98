import { describe, expect, it } from "vitest";
import { cpuBetween } from "./postgres-backends.js";

describe("cpuBetween", () => {
  it("sums what each backend spent, counting one opened meanwhile from zero and one closed meanwhile as lost", () => {
    const before = new Map([[10, 1.5], [11, 0.25], [12, 4]]); // 12 closes meanwhile
    const after = new Map([[10, 2], [11, 0.25], [13, 0.75]]); // 13 opens meanwhile
    expect(cpuBetween(before, after)).toBeCloseTo(0.5 + 0 + 0.75, 10);
  });

  it("is zero when nothing ran", () => {
    expect(cpuBetween(new Map(), new Map())).toBe(0);
  });
});
