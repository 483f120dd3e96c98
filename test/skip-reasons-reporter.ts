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

/** The reason a test was skipped: its note, or the name of the suite that says "skipped". */
function describeSkip(test: TestCase): string {
  const result = test.result();
  const note = result.state === "skipped" ? result.note : undefined;
  if (note) return `${test.fullName} (${note})`;
  let suite = test.parent;
  while (suite.type === "suite") {
    if (/skipped/i.test(suite.name)) return suite.name;
    suite = suite.parent;
  }
  return /skipped/i.test(test.name) ? test.fullName : `${test.fullName} (no reason given)`;
}
