// What the suite's own tests expect of the example clients (Go and Python):
// they claim every client suite but those listed here, so those cases skip
// for them (saying so) and any other skip is a regression.
import type { CaseResult } from "./report.js";

/** Client suites the Go and Python examples do not implement, and so do not claim. */
export const UNCLAIMED_BY_EXAMPLES: readonly string[] = ["filters"];

/** Skipped cases outside `unclaimed`, or skipped without saying the client does not claim the suite. */
export function unexpectedSkips(results: readonly CaseResult[], unclaimed: readonly string[]): string[] {
  return results
    .filter((r) => r.outcome === "skipped" && !(unclaimed.includes(r.case.suite) && (r.message ?? "").includes(`does not claim suite ${r.case.suite}`)))
    .map((r) => `${r.case.id}: ${r.message ?? ""}`);
}
