// What the suite's own tests share: the cases, a list of what failed, and the
// rule for a missing toolchain (in CI a failure, elsewhere a skip that says why).
import { describe, it } from "vitest";
import { loadCases } from "./cases.js";
import type { CaseResult } from "./report.js";

export const cases = loadCases();

export function failures(results: CaseResult[]): string[] {
  return results.filter((r) => r.outcome === "failed").map((r) => `${r.case.id}: ${r.message ?? ""}`);
}

/**
 * Declares `title` as a failing test in CI and a skip elsewhere when
 * `problem` says the toolchain it needs is missing; returns whether it runs.
 */
export function needsToolchain(title: string, problem: string | undefined): boolean {
  if (problem === undefined) return true;
  // CI must run it: there, a missing toolchain is a failure, not a skip.
  if (process.env.CI) describe(title, () => it("has the toolchain it needs", () => { throw new Error(problem); }));
  else describe.skip(`${title}: skipped, ${problem}`, () => it("needs its toolchain", () => {}));
  return false;
}
