// Running cases and reporting them: a line per case, a summary line
// `N passed, N failed` (`, N skipped` when any), JUnit XML, known failures.
import { setMaxListeners } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import type { CaseDef } from "./cases.js";
import { CheckFailure, Skip } from "./wire.js";

export type Outcome = "passed" | "failed" | "skipped";

export interface CaseResult {
  readonly case: CaseDef;
  readonly outcome: Outcome;
  /** Why it failed or was skipped. */
  readonly message?: string;
  readonly durationMs: number;
  /** The case failed but is listed as known failing: it does not fail the run. */
  readonly known?: boolean;
}

/** Known failures: one case id (or glob) per line; `#` starts a comment. */
export function loadKnownFailing(file: string | undefined): string[] {
  if (!file) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter(Boolean);
}

export function matchesAny(id: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => new RegExp(`^${p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(id));
}

export async function runCase(
  c: CaseDef,
  timeoutMs: number,
  body: (signal: AbortSignal) => Promise<void>,
): Promise<CaseResult> {
  const started = Date.now();
  const controller = new AbortController();
  setMaxListeners(0, controller.signal); // a case may make many calls at once with it
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new CheckFailure(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    await Promise.race([body(controller.signal), timeout]);
    return { case: c, outcome: "passed", durationMs: Date.now() - started };
  } catch (error) {
    if (error instanceof Skip) return { case: c, outcome: "skipped", message: error.message, durationMs: Date.now() - started };
    const message =
      error instanceof CheckFailure
        ? error.message
        : `unexpected error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
    return { case: c, outcome: "failed", message, durationMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

export function printResult(r: CaseResult, out: (line: string) => void): void {
  const tag = r.outcome === "passed" ? "PASS" : r.outcome === "skipped" ? "SKIP" : r.known ? "FAIL (known)" : "FAIL";
  const detail = r.message ? ` - ${r.message}` : "";
  out(`${tag} ${r.case.id} [${r.case.section}] (${r.durationMs} ms)${detail}`);
}

export interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  knownFailing: number;
  /** Listed as known failing but passed: the list should be trimmed. */
  unexpectedPasses: string[];
}

export function summarize(results: readonly CaseResult[], known: readonly string[]): Summary {
  const s: Summary = { passed: 0, failed: 0, skipped: 0, knownFailing: 0, unexpectedPasses: [] };
  for (const r of results) {
    if (r.outcome === "passed") {
      s.passed++;
      if (matchesAny(r.case.id, known)) s.unexpectedPasses.push(r.case.id);
    } else if (r.outcome === "skipped") s.skipped++;
    else if (r.known) s.knownFailing++;
    else s.failed++;
  }
  return s;
}

/** `N passed, N failed` plus `, N skipped` and `, N known failing` when non-zero. */
export function summaryLine(s: Summary): string {
  let line = `${s.passed} passed, ${s.failed} failed`;
  if (s.skipped) line += `, ${s.skipped} skipped`;
  if (s.knownFailing) line += `, ${s.knownFailing} known failing`;
  return line;
}

function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!)
    // XML 1.0 forbids most control characters.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "");
}

export function junitXml(name: string, results: readonly CaseResult[]): string {
  const bySuite = new Map<string, CaseResult[]>();
  for (const r of results) bySuite.set(r.case.suite, [...(bySuite.get(r.case.suite) ?? []), r]);
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const total = results.length;
  const failures = results.filter((r) => r.outcome === "failed" && !r.known).length;
  const skipped = results.filter((r) => r.outcome === "skipped" || r.known).length;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const time = results.reduce((t, r) => t + r.durationMs, 0);
  lines.push(`<testsuites name="${xml(name)}" tests="${total}" failures="${failures}" skipped="${skipped}" time="${seconds(time)}">`);
  for (const [suite, rs] of bySuite) {
    const f = rs.filter((r) => r.outcome === "failed" && !r.known).length;
    const sk = rs.filter((r) => r.outcome === "skipped" || r.known).length;
    const t = rs.reduce((a, r) => a + r.durationMs, 0);
    lines.push(`  <testsuite name="${xml(`${name}.${suite}`)}" tests="${rs.length}" failures="${f}" skipped="${sk}" time="${seconds(t)}">`);
    for (const r of rs) {
      const open = `    <testcase classname="${xml(`${name}.${suite}`)}" name="${xml(`${r.case.id} ${r.case.section}`)}" time="${seconds(r.durationMs)}"`;
      if (r.outcome === "passed") lines.push(`${open}/>`);
      else if (r.outcome === "skipped") lines.push(`${open}><skipped message="${xml(r.message ?? "")}"/></testcase>`);
      else if (r.known) lines.push(`${open}><skipped message="${xml(`known failing: ${r.message ?? ""}`)}"/></testcase>`);
      else lines.push(`${open}><failure message="${xml(r.message ?? "")}">${xml(`${r.case.description}\n\n${r.message ?? ""}`)}</failure></testcase>`);
    }
    lines.push("  </testsuite>");
  }
  lines.push("</testsuites>");
  return `${lines.join("\n")}\n`;
}

export function writeJunit(file: string, name: string, results: readonly CaseResult[]): void {
  writeFileSync(file, junitXml(name, results));
}
