// The suite judges the Go example client (examples/go-client): it passes every
// client case of the suites the client claims, and every one of those suites
// fails against the client's -bug flag. A suite that cannot fail proves nothing.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { filterCases } from "./cases.js";
import { runClientMode } from "./client-mode.js";
import { UNCLAIMED_BY_EXAMPLES, unexpectedSkips } from "./example-clients.js";
import type { CaseResult } from "./report.js";
import { ROOT } from "./server-process.js";
import { cases, failures, needsToolchain } from "./testing.js";

/** Whether `go` runs here; the Go example needs it to build. */
function hasGo(): boolean {
  try {
    execFileSync("go", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const goMissing = hasGo() ? undefined : "Go is not installed (https://go.dev/dl/); the Go example client cannot be built";
describe.runIf(needsToolchain("client mode (Go example client)", goMissing))("client mode (Go example client)", () => {
  let binary = "";
  beforeAll(() => {
    binary = join(mkdtempSync(join(tmpdir(), "pocket-go-client-")), "go-client");
    execFileSync("go", ["build", "-o", binary, "./examples/go-client"], { cwd: ROOT, stdio: "inherit" });
  }, 180_000);

  async function judge(command: string[], patterns: string[]): Promise<CaseResult[]> {
    return runClientMode({ command, cases: filterCases(cases, patterns).filter((c) => c.mode === "client"), timeoutMs: 30_000 });
  }

  it("passes every client case of the suites it claims; the others skip, saying why", async () => {
    const results = await judge([binary], []);
    expect(failures(results)).toEqual([]);
    expect(unexpectedSkips(results, UNCLAIMED_BY_EXAMPLES)).toEqual([]);
    expect(results.length).toBe(cases.filter((c) => c.mode === "client").length);
  }, 240_000);

  const broken: [string, string][] = [
    ["push", "stale-base"],
    ["push", "ignore-remote-clock"],
    ["pull", "echo"],
    ["resume", "no-checkpoint"],
    ["retry", "resequence"],
    ["conflict-report", "ignore-conflicts"],
    ["conflict-report", "always-local"],
    ["conflict-report", "two-way-merge"],
    ["conflict-resolved", "ignore-resolved"],
    ["offline", "sync-offline"],
    ["tombstones", "no-checkpoint"],
    ["subscribe", "no-reconnect"],
    ["convergence", "echo"],
    ["every-collection", "no-checkpoint"],
  ];
  it.each(broken)("suite %s fails against a client with bug %s", async (suite, bug) => {
    const results = await judge([binary, "-bug", bug], [suite]);
    expect(results.length).toBeGreaterThan(0);
    expect(failures(results).length).toBeGreaterThan(0);
  }, 180_000);
});
