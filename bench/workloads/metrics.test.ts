import { describe, expect, it } from "vitest";
import { cpuCeiling, figure } from "./metrics.js";

describe("cpuCeiling", () => {
  it("takes the server's CPU per operation from the measured rounds, not the warm-up", () => {
    // 1000 ops/s at half a core = 500 µs each; the warm-up (first) reading is ignored.
    const subject = figure("server", "ops/s", [1000, 1000, 1000]);
    const baseline = figure("baseline", "ops/s", [4000, 4000, 4000]);
    const ceiling = cpuCeiling("op", subject, [0.9, 0.5, 0.5, 0.5], baseline);
    expect(ceiling).toEqual({
      "server CPU per op (µs)": 500,
      "ops/s at that cost on one saturated core": 2000,
      "that ceiling / the baseline's median": 0.5,
    });
  });
});
