// The suite judges the TypeScript reference client through its adapter
// (conformance/adapters/ts-client.ts): it passes, and each suite fails against
// the adapter's POCKET_ADAPTER_BUG. A suite that cannot fail proves nothing.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { filterCases } from "./cases.js";
import { runClientMode } from "./client-mode.js";
import type { CaseResult } from "./report.js";
import { ROOT } from "./server-process.js";
import { cases, failures } from "./testing.js";

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
