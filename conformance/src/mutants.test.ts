// The mutation catalogue stays usable: every fault still applies to today's
// source, names cases that exist, and the harness kills one fault of each
// mode. The whole catalogue runs with `npm run conformance:mutants`; .ci/run
// runs the fast subset (`-- --fast`) on every change.
import { describe, expect, it } from "vitest";
import { filterCases, loadCases } from "./cases.js";
import { judgeMutant, loadCatalogue, mutatedSource } from "./mutants.js";

const cases = loadCases();

describe.each([
  ["server", 40],
  ["client", 20],
] as const)("the %s catalogue", (mode, atLeast) => {
  const catalogue = loadCatalogue(mode);

  it(`holds at least ${atLeast} faults, each applying to today's source and naming cases of its mode`, () => {
    expect(catalogue.length).toBeGreaterThanOrEqual(atLeast);
    for (const m of catalogue) {
      expect(() => mutatedSource(m), m.id).not.toThrow();
      expect(mutatedSource(m), `${m.id} changes nothing`).not.toBe(mutatedSource({ ...m, edits: [] }));
      for (const killer of m.killers) {
        expect(filterCases(cases, [killer]).filter((c) => c.mode === mode).length, `${m.id}: killer ${killer} matches no ${mode} case`).toBeGreaterThan(0);
      }
    }
    expect(catalogue.some((m) => m.fast), "a fast subset for CI").toBe(true);
  });

  it("breaks what it claims: the first fast fault is caught by one of its killers", async () => {
    const m = catalogue.find((x) => x.fast)!;
    const result = await judgeMutant(m, { killersOnly: true });
    expect(result.broken, "the mutated source runs").toBeUndefined();
    expect(result.killedBy, `${m.id} survived: ${m.why}`).toBeDefined();
  }, 120_000);
});
