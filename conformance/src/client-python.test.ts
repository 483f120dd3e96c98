// The suite judges the Python example client (examples/python-client): its own
// tests pass, it passes every client case of the suites it claims, and every
// one of those suites fails against its --bug flag. A suite that cannot fail
// proves nothing.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { filterCases } from "./cases.js";
import { runClientMode } from "./client-mode.js";
import { UNCLAIMED_BY_EXAMPLES, unexpectedSkips } from "./example-clients.js";
import { ROOT } from "./server-process.js";
import { cases, failures, needsToolchain } from "./testing.js";

/** Why the Python example client cannot run here, or undefined when it can. */
function pythonProblem(): string | undefined {
  try {
    execFileSync("bash", ["scripts/setup-python.sh", "--check"], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    return undefined;
  } catch (error) {
    return String((error as { stderr?: Buffer }).stderr ?? error).trim() || "python3 is not usable";
  }
}
describe.runIf(needsToolchain("client mode (Python example client)", pythonProblem()))("client mode (Python example client)", () => {
  const python = join(ROOT, ".venv/bin/python");
  const client = [python, "-m", "pocket_client", "control"];
  const clientCases = cases.filter((c) => c.mode === "client");

  /** Runs a command in the repository; its output only when it fails. */
  function run(command: string, args: string[], timeout: number): void {
    try {
      execFileSync(command, args, { cwd: ROOT, stdio: "pipe", timeout });
    } catch (error) {
      const e = error as { stdout?: Buffer; stderr?: Buffer; message: string };
      throw new Error(`${command} ${args.join(" ")} failed: ${e.message}\n${String(e.stdout ?? "")}${String(e.stderr ?? "")}`);
    }
  }

  beforeAll(() => {
    // The venv and gen/python are made here, so a fresh clone's `npm test` needs nothing more.
    run("bash", ["scripts/setup-python.sh"], 600_000);
  }, 600_000);

  it("passes its own tests (pytest: HLC, merge, replica, engine, the reference server, mypy)", () => {
    run(python, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/python-client"], 300_000);
  }, 300_000);

  it("passes every client case of the suites it claims; the others skip, saying why", async () => {
    const results = await runClientMode({ command: client, cases: clientCases, timeoutMs: 30_000 });
    expect(failures(results)).toEqual([]);
    expect(unexpectedSkips(results, UNCLAIMED_BY_EXAMPLES)).toEqual([]);
    expect(results.filter((r) => r.outcome === "passed").length).toBe(clientCases.filter((c) => !UNCLAIMED_BY_EXAMPLES.includes(c.suite)).length);
  }, 600_000);

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
    ["tombstones", "no-resync"],
    ["subscribe", "stream-from-start"],
    ["convergence", "no-retry"],
    ["every-collection", "no-checkpoint"],
  ];
  it("breaks every client suite it claims with some bug", () => {
    expect([...new Set(broken.map(([suite]) => suite))].sort()).toEqual([...new Set(clientCases.map((c) => c.suite))].filter((s) => !UNCLAIMED_BY_EXAMPLES.includes(s)).sort());
  });
  it.each(broken)("suite %s fails against the client with --bug %s", async (suite, bug) => {
    const results = await runClientMode({ command: [...client, "--bug", bug], cases: filterCases(clientCases, [suite]), timeoutMs: 30_000 });
    expect(results.length).toBeGreaterThan(0);
    expect(failures(results).length).toBeGreaterThan(0);
  }, 180_000);
});
