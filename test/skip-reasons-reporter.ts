// A vitest reporter, beside the default one: after the run it lists what was
// skipped and why. The default reporter only counts skipped tests, so a
// newcomer saw "8 skipped" with no hint that PostgreSQL, Chromium, Go or Python
// was missing. A skipped suite states its reason in its name ("…: skipped,
// Chromium is not at /usr/bin/chromium …") or through ctx.skip(note).
import type { Reporter, TestCase, TestModule } from "vitest/node";

export default class SkipReasonsReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const lines = new Map<string, number>();
    for (const module of modules) {
      for (const test of module.children.allTests("skipped")) {
        const line = `${module.relativeModuleId}: ${describeSkip(test)}`;
        lines.set(line, (lines.get(line) ?? 0) + 1);
      }
    }
    if (lines.size === 0) return;
    const out = ["", "Skipped, and why:"];
    for (const [line, count] of lines) out.push(`  ↓ ${line}${count > 1 ? ` (${count} tests)` : ""}`);
    console.log(out.join("\n"));
  }
}

/** A name that gives a skip's reason: "…: skipped, Go is not installed" (not "none skipped"). */
const GIVES_REASON = /\bskipped(?: here)?[,;:]/i;

/** The reason a test was skipped: its note, or the name of the suite that gives one. */
function describeSkip(test: TestCase): string {
  const result = test.result();
  const note = result.state === "skipped" ? result.note : undefined;
  if (note) return `${test.fullName} (${note})`;
  let outermost = test.name;
  if (GIVES_REASON.test(test.name)) return test.fullName;
  for (let suite = test.parent; suite.type === "suite"; suite = suite.parent) {
    if (GIVES_REASON.test(suite.name)) return suite.name;
    outermost = suite.name;
  }
  // A bare skip, or a test left out by a name filter (-t): one line per suite.
  return `${outermost} (no reason given: a bare skip, or left out by a name filter)`;
}
