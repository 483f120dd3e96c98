// The suite's own tests: it passes healthy implementations, and every suite
// fails against an implementation broken on purpose - servers broken by the
// fault proxy (conformance/src/proxy.ts, Breakage), clients by the Go
// example's -bug flag and the Python example's --bug flag (every client suite
// each) and by POCKET_ADAPTER_BUG of the TypeScript reference client's adapter
// (conformance/adapters/ts-client.ts). A suite that cannot fail proves nothing.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CASES_DIR, filterCases, loadCases } from "./cases.js";
import { runClientMode } from "./client-mode.js";
import { UNCLAIMED_BY_EXAMPLES, unexpectedSkips } from "./example-clients.js";
import { loadFeatures } from "./features.js";
import { FaultProxy, type Breakage } from "./proxy.js";
import { junitXml, loadKnownFailing, matchesAny, summarize, summaryLine, type CaseResult } from "./report.js";
import { runServerMode } from "./server-mode.js";
import { CLIENT_SUITES, SERVER_SUITES, clientCheck, serverCheck, suiteFile } from "./suites.js";
import { REFERENCE_FEATURES_FILE, REFERENCE_SETUP, ROOT, ServerProcess } from "./server-process.js";

const cases = loadCases();

function failures(results: CaseResult[]): string[] {
  return results.filter((r) => r.outcome === "failed").map((r) => `${r.case.id}: ${r.message ?? ""}`);
}

/** Server cases the reference server is known to fail (reported; run-ci.sh reads the same file). */
const knownFailingServer = loadKnownFailing(join(ROOT, "conformance/known-failing-server.txt"));

describe("cases", () => {
  it("every case names a section of PROTOCOL.md and belongs to its suite", () => {
    expect(cases.length).toBeGreaterThan(100);
    for (const c of cases) {
      expect(c.id.startsWith(`${c.suite}/`)).toBe(true);
      expect(c.section).toMatch(/^§\d+/);
    }
  });

  it("every suite's YAML has its checks beside it by name, and each check is named by a case of its suite", () => {
    const files = readdirSync(CASES_DIR);
    const suites = files.filter((f) => f.endsWith(".yaml")).map((f) => f.slice(0, -".yaml".length));
    expect(suites.sort()).toEqual([...Object.keys(SERVER_SUITES), ...Object.keys(CLIENT_SUITES)].sort());
    for (const suite of suites) expect(files).toContain(`${suite}.ts`);
    for (const c of cases.filter((c) => c.check !== undefined)) {
      expect(() => (c.mode === "server" ? serverCheck(c) : clientCheck(c))).not.toThrow();
    }
    for (const [file, checks] of Object.entries({ ...SERVER_SUITES, ...CLIENT_SUITES })) {
      const named = new Set(cases.filter((c) => suiteFile(c) === file).map((c) => c.check));
      expect(Object.keys(checks).filter((name) => !named.has(name)), `checks of ${file}.ts no case names`).toEqual([]);
    }
  });

  it("reports a summary line and JUnit XML", () => {
    const c = cases[0]!;
    const results: CaseResult[] = [
      { case: c, outcome: "passed", durationMs: 1 },
      { case: c, outcome: "failed", message: "a <bad> & \"quoted\" thing", durationMs: 2 },
      { case: c, outcome: "skipped", message: "why", durationMs: 0 },
    ];
    expect(summaryLine(summarize(results, []))).toBe("1 passed, 1 failed, 1 skipped");
    const xml = junitXml("t", results);
    expect(xml).toContain('failures="1"');
    expect(xml).toContain("a &lt;bad&gt; &amp; &quot;quoted&quot; thing");
  });
});

describe("server mode", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = new ServerProcess({ ...REFERENCE_SETUP });
    await server.start();
  }, 60_000);
  afterAll(() => server?.stop());

  async function judge(breakage: Breakage, patterns: string[]): Promise<CaseResult[]> {
    const proxy = new FaultProxy(server.url);
    proxy.breakage = breakage;
    await proxy.start();
    try {
      return await runServerMode({
        target: {
          url: proxy.url,
          protocol: "connect-proto",
          httpVersion: "1.1",
          tokens: { token: REFERENCE_SETUP.token, token2: REFERENCE_SETUP.token2 },
          features: loadFeatures(REFERENCE_FEATURES_FILE),
        },
        cases: filterCases(cases, patterns).filter((c) => c.mode === "server"),
        timeoutMs: 30_000,
      });
    } finally {
      await proxy.stop();
    }
  }

  it("passes the reference server behind a faithful proxy", async () => {
    const results = await judge({}, ["basic", "idempotency", "conflict", "resume", "auth", "subscribe", "every-collection", "filters", "filter-moves"]);
    expect(failures(results.filter((r) => !matchesAny(r.case.id, knownFailingServer)))).toEqual([]);
    expect(results.filter((r) => r.outcome === "passed").length).toBeGreaterThan(30);
  }, 120_000);

  const broken: [string, Breakage][] = [
    ["basic", { dropTombstones: true }],
    ["pagination", { reorder: true }],
    ["resume", { ignoreCheckpoint: true }],
    ["every-collection", { ignoreCheckpoint: true }],
    ["filters", { ignoreFilters: true }],
    ["filter-moves", { ignoreFilters: true }],
    ["filter-moves", { dropTombstones: true }],
    ["subscribe", { duplicateChanges: true }],
    ["heartbeat", { dropHeartbeats: true }],
    ["concurrency", { dropChanges: true }],
    ["conflict", { hideConflicts: true }],
    ["idempotency", { skipIdempotency: true }],
    ["tombstones", { dropTombstones: true }],
    ["auth", { anonymousAs: REFERENCE_SETUP.token }],
    ["validation", { swallowErrors: true }],
    ["protocols", { swallowErrors: true }],
  ];
  it.each(broken)("suite %s fails against a server that breaks it (%j)", async (suite, breakage) => {
    const results = await judge(breakage, [suite]);
    expect(results.length).toBeGreaterThan(0);
    expect(failures(results).length).toBeGreaterThan(0);
  }, 120_000);
});

/** Whether `go` runs here; the Go example needs it to build. */
function hasGo(): boolean {
  try {
    execFileSync("go", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const goMissing = "Go is not installed (https://go.dev/dl/); the Go example client cannot be built";
if (!hasGo()) {
  // CI must run it: there, a missing toolchain is a failure, not a skip.
  if (process.env.CI) describe("client mode (Go example client)", () => it("has Go to build the client", () => { throw new Error(goMissing); }));
  else describe.skip(`client mode (Go example client): skipped, ${goMissing}`, () => it("needs Go", () => {}));
}
describe.runIf(hasGo())("client mode (Go example client)", () => {
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

describe("client mode (TypeScript reference client, through its adapter)", () => {
  const adapter = ["node", "--import", "tsx", join(ROOT, "conformance/adapters/ts-client.ts")];
  const saved = process.env.POCKET_ADAPTER_BUG;
  afterEach(() => {
    if (saved === undefined) delete process.env.POCKET_ADAPTER_BUG;
    else process.env.POCKET_ADAPTER_BUG = saved;
  });

  // The adapter reads POCKET_ADAPTER_BUG from the environment it inherits.
  async function judge(bug: string, patterns: string[]): Promise<CaseResult[]> {
    if (bug) process.env.POCKET_ADAPTER_BUG = bug;
    else delete process.env.POCKET_ADAPTER_BUG;
    return runClientMode({ command: adapter, cases: filterCases(cases, patterns).filter((c) => c.mode === "client"), timeoutMs: 30_000 });
  }

  it("passes the offline, subscribe, convergence, every-collection and filters suites", async () => {
    const suites = ["offline", "subscribe", "convergence", "every-collection", "filters"];
    const results = await judge("", suites);
    expect(failures(results)).toEqual([]);
    expect(results.filter((r) => r.outcome === "passed").length).toBe(filterCases(cases, suites).filter((c) => c.mode === "client").length);
  }, 120_000);

  const broken: [string, string][] = [
    ["offline", "sync-offline"],
    ["subscribe", "no-checkpoint"],
    ["convergence", "no-retry"],
    ["every-collection", "no-checkpoint"],
    ["filters", "no-filter"],
  ];
  it.each(broken)("suite %s fails against the adapter with bug %s", async (suite, bug) => {
    const results = await judge(bug, [suite]);
    expect(results.length).toBeGreaterThan(0);
    expect(failures(results).length).toBeGreaterThan(0);
  }, 120_000);
});

/** Why the Python example client cannot run here, or undefined when it can. */
function pythonProblem(): string | undefined {
  try {
    execFileSync("bash", ["scripts/setup-python.sh", "--check"], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    return undefined;
  } catch (error) {
    return String((error as { stderr?: Buffer }).stderr ?? error).trim() || "python3 is not usable";
  }
}
const pythonMissing = pythonProblem();
if (pythonMissing) {
  // CI must run it: there, a missing toolchain is a failure, not a skip.
  if (process.env.CI) describe("client mode (Python example client)", () => it("has Python to run the client", () => { throw new Error(pythonMissing); }));
  else describe.skip(`client mode (Python example client): skipped, ${pythonMissing}`, () => it("needs Python", () => {}));
}
describe.runIf(!pythonMissing)("client mode (Python example client)", () => {
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
