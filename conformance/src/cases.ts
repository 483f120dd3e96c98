// Test cases are data: conformance/cases/*.yaml. Each file is one suite of one
// mode (server or client); each case names the sentence of docs/PROTOCOL.md it
// checks and either lists steps (interpreted by steps.ts) or names a check
// implemented in TypeScript beside the suite's YAML by name (cases/server-basic.ts
// for cases/server-basic.yaml; see suites.ts).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

export type Mode = "server" | "client";

export interface CaseDef {
  /** `suite/name`, unique. */
  readonly id: string;
  readonly suite: string;
  readonly mode: Mode;
  /** The PROTOCOL.md section(s) checked, such as "§4.6". */
  readonly section: string;
  readonly description: string;
  /** Features the implementation must declare, else the case is skipped. */
  readonly requires: readonly string[];
  /** A named check implemented in TypeScript. */
  readonly check?: string;
  /** Data steps, for cases that need no logic. */
  readonly steps?: readonly Record<string, unknown>[];
  /** Parameters for the named check. */
  readonly params: Record<string, unknown>;
  readonly file: string;
}

const here = dirname(fileURLToPath(import.meta.url));
/**
 * conformance/cases: beside src/ in the repository, three levels above
 * dist/conformance/src/ once installed. The built package also has a
 * dist/conformance/cases/ beside src/ (the compiled checks, no YAML), so the
 * directory is the one that holds the cases' YAML.
 */
export const CASES_DIR =
  [resolve(here, "..", "cases"), resolve(here, "../../..", "cases")].find((dir) => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith(".yaml"))) ??
  resolve(here, "..", "cases");

interface SuiteFile {
  suite?: unknown;
  mode?: unknown;
  requires?: unknown;
  cases?: unknown;
}

function strings(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw new Error(`${where}: expected a list of strings`);
  return value as string[];
}

export function loadCases(dir = CASES_DIR): CaseDef[] {
  const all: CaseDef[] = [];
  const seen = new Set<string>();
  for (const name of readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort()) {
    const file = join(dir, name);
    const doc = parse(readFileSync(file, "utf8")) as SuiteFile;
    const suite = doc.suite;
    const mode = doc.mode;
    if (typeof suite !== "string") throw new Error(`${file}: missing suite`);
    if (mode !== "server" && mode !== "client") throw new Error(`${file}: mode must be server or client`);
    const suiteRequires = strings(doc.requires, file);
    if (!Array.isArray(doc.cases)) throw new Error(`${file}: missing cases`);
    for (const raw of doc.cases as Record<string, unknown>[]) {
      const where = `${file}: case ${String(raw.id)}`;
      if (typeof raw.id !== "string" || !raw.id.startsWith(`${suite}/`)) throw new Error(`${where}: id must start with "${suite}/"`);
      if (seen.has(`${mode}:${raw.id}`)) throw new Error(`${where}: duplicate id`);
      seen.add(`${mode}:${raw.id}`);
      if (typeof raw.section !== "string" || !/^§\d+(\.\d+)?/.test(raw.section)) throw new Error(`${where}: section must look like "§4.6"`);
      if (typeof raw.description !== "string") throw new Error(`${where}: missing description`);
      const hasCheck = typeof raw.check === "string";
      const hasSteps = Array.isArray(raw.steps);
      if (hasCheck === hasSteps) throw new Error(`${where}: give exactly one of check or steps`);
      all.push({
        id: raw.id,
        suite,
        mode,
        section: raw.section,
        description: raw.description.trim(),
        requires: [...suiteRequires, ...strings(raw.requires, where)],
        ...(hasCheck ? { check: raw.check as string } : {}),
        ...(hasSteps ? { steps: raw.steps as Record<string, unknown>[] } : {}),
        params: (raw.params as Record<string, unknown> | undefined) ?? {},
        file,
      });
    }
  }
  return all;
}

/** Cases whose id matches one of the globs (`*` matches anything). */
export function filterCases(cases: CaseDef[], patterns: string[]): CaseDef[] {
  if (patterns.length === 0) return cases;
  const regexes = patterns.map((p) => new RegExp(`^${p.split("*").map(escapeRegex).join(".*")}$`));
  return cases.filter((c) => regexes.some((r) => r.test(c.id) || r.test(c.suite)));
}

function escapeRegex(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}
