// The suite's own tests: its cases are well formed, it passes the reference
// server, and every server suite fails against a server broken on purpose by
// the fault proxy (conformance/src/proxy.ts, Breakage). A suite that cannot
// fail proves nothing. The client suites are judged the same way beside this
// file: client-go.test.ts, client-python.test.ts, client-typescript.test.ts.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CASES_DIR, filterCases } from "./cases.js";
import { loadFeatures } from "./features.js";
import { FaultProxy, type Breakage } from "./proxy.js";
import { junitXml, loadKnownFailing, matchesAny, summarize, summaryLine, type CaseResult } from "./report.js";
import { runServerMode } from "./server-mode.js";
import { CLIENT_SUITES, SERVER_SUITES, clientCheck, serverCheck, suiteFile } from "./suites.js";
import { REFERENCE_FEATURES_FILE, REFERENCE_SETUP, ROOT, ServerProcess } from "./server-process.js";
import { cases, failures } from "./testing.js";

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
