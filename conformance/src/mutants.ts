// Mutation testing of the suite itself: a catalogue of small, realistic bugs
// (conformance/mutants/server.yaml and client.yaml), each applied to a copy
// of the source, and the suite run against the broken copy. A bug the suite
// does not catch is a survivor: a hole in the suite, or a bug that cannot be
// seen from the wire (then it does not belong in the catalogue).
//
// A server mutant runs the server suite (connect-proto over HTTP/1.1)
// against the reference server started from the copy; a client mutant runs
// the client suite against the TypeScript client (its adapter) from the
// copy. Each entry names the cases meant to catch it (`killers`); they run
// first, then, if none failed, every other case of the mode. A kill by a case
// outside `killers` is confirmed by running that case against the unmutated
// source, so a flaky case cannot inflate the score.
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { filterCases, loadCases, type CaseDef, type Mode } from "./cases.js";
import { runClientMode } from "./client-mode.js";
import { loadFeatures } from "./features.js";
import type { CaseResult } from "./report.js";
import { runServerMode } from "./server-mode.js";
import { REFERENCE_FEATURES_FILE, REFERENCE_SETUP, ROOT, ServerProcess } from "./server-process.js";

export const MUTANTS_DIR = join(ROOT, "conformance/mutants");

export interface Mutant {
  readonly id: string;
  readonly mode: Mode;
  /** The file to break, relative to the repository root. */
  readonly file: string;
  /** Texts that occur exactly once in the file, and what each becomes. */
  readonly edits: readonly { readonly find: string; readonly replace: string }[];
  /** The realistic mistake it stands for, and the PROTOCOL.md rule it breaks. */
  readonly why: string;
  /** Case ids (globs) meant to catch it; they run first. */
  readonly killers: readonly string[];
  /** Part of the fast subset CI runs on every change. */
  readonly fast: boolean;
}

export function loadCatalogue(mode: Mode): Mutant[] {
  const file = join(MUTANTS_DIR, `${mode}.yaml`);
  const doc = parse(readFileSync(file, "utf8")) as { mutants?: Record<string, unknown>[] };
  const seen = new Set<string>();
  return (doc.mutants ?? []).map((raw) => {
    const where = `${file}: ${String(raw.id)}`;
    for (const key of ["id", "file", "why"]) {
      if (typeof raw[key] !== "string") throw new Error(`${where}: ${key} must be a string`);
    }
    // One edit as find/replace, or several as edits: [{find, replace}].
    const edits = (raw.edits ?? [{ find: raw.find, replace: raw.replace }]) as Record<string, unknown>[];
    if (!Array.isArray(edits) || edits.length === 0 || !edits.every((e) => typeof e.find === "string" && e.find !== "" && typeof e.replace === "string")) {
      throw new Error(`${where}: give find and replace, or edits: [{find, replace}]`);
    }
    if (seen.has(raw.id as string)) throw new Error(`${where}: duplicate id`);
    seen.add(raw.id as string);
    const killers = raw.killers;
    if (!Array.isArray(killers) || killers.length === 0 || !killers.every((k) => typeof k === "string")) {
      throw new Error(`${where}: killers must list the cases meant to catch it`);
    }
    return {
      id: raw.id as string,
      mode,
      file: raw.file as string,
      edits: edits.map((e) => ({ find: e.find as string, replace: e.replace as string })),
      why: (raw.why as string).trim(),
      killers: killers as string[],
      fast: raw.fast === true,
    };
  });
}

/** The source with the mutant applied, as text; throws when a `find` does not occur exactly once. */
export function mutatedSource(m: Mutant, root = ROOT): string {
  let source = readFileSync(join(root, m.file), "utf8");
  for (const { find, replace } of m.edits) {
    const at = source.indexOf(find);
    if (at < 0) throw new Error(`mutant ${m.id}: ${JSON.stringify(find.slice(0, 60))} is no longer in ${m.file} (update the catalogue)`);
    if (source.indexOf(find, at + 1) >= 0) throw new Error(`mutant ${m.id}: ${JSON.stringify(find.slice(0, 60))} occurs more than once in ${m.file}`);
    source = source.slice(0, at) + replace + source.slice(at + find.length);
  }
  return source;
}

/** What a copy needs to run the server and the TypeScript client. */
const COPIED = ["server/src", "client/src", "common/src", "gen/ts", "conformance/adapters", "package.json", "tsconfig.json"];

/** A copy of the source with the mutant applied; remove it when done. */
export function mutatedCopy(m: Mutant): string {
  const dir = mkdtempSync(join(tmpdir(), `pocket-mutant-${m.id}-`));
  for (const path of COPIED) cpSync(join(ROOT, path), join(dir, path), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  writeFileSync(join(dir, m.file), mutatedSource(m));
  return dir;
}

/** Runs `cases` against the source in `root` (a mutated copy, or the repository); stops at the first failure. */
async function judge(mode: Mode, root: string, cases: readonly CaseDef[]): Promise<CaseResult[]> {
  if (cases.length === 0) return [];
  if (mode === "client") {
    return runClientMode({ command: [process.execPath, "--import", "tsx", join(root, "conformance/adapters/ts-client.ts")], cases, timeoutMs: 60_000, bail: true });
  }
  const server = new ServerProcess({ ...REFERENCE_SETUP, command: [process.execPath, "--import", "tsx", join(root, "server/src/serve/cli.ts")] });
  await server.start();
  try {
    return await runServerMode({
      target: {
        url: server.url,
        protocol: "connect-proto",
        httpVersion: "1.1",
        tokens: { token: REFERENCE_SETUP.token, token2: REFERENCE_SETUP.token2 },
        features: loadFeatures(REFERENCE_FEATURES_FILE),
      },
      cases,
      timeoutMs: 60_000,
      bail: true,
    });
  } finally {
    await server.stop();
  }
}

export interface MutantResult {
  readonly mutant: Mutant;
  /** The case that failed against the mutant; undefined: it survived. */
  readonly killedBy?: string;
  readonly message?: string;
  /** The killing case was not among the mutant's killers. */
  readonly unexpected?: boolean;
  /** The mutated source does not even run (a mistake in the catalogue, not a kill). */
  readonly broken?: string;
  readonly durationMs: number;
}

/**
 * Judges one mutant: its killers first, then (unless `killersOnly`) every other
 * case of its mode. A kill by a case outside its killers counts only if that
 * case passes against the unmutated source.
 */
export async function judgeMutant(m: Mutant, options: { killersOnly?: boolean } = {}): Promise<MutantResult> {
  const started = Date.now();
  const all = loadCases().filter((c) => c.mode === m.mode);
  const killers = filterCases(all, [...m.killers]);
  if (killers.length === 0) throw new Error(`mutant ${m.id}: no case matches its killers ${m.killers.join(", ")}`);
  const rest = all.filter((c) => !killers.includes(c));
  const dir = mutatedCopy(m);
  try {
    let judged: CaseResult[];
    try {
      judged = await judge(m.mode, dir, killers);
    } catch (error) {
      return { mutant: m, broken: error instanceof Error ? error.message.split("\n").slice(0, 8).join("\n") : String(error), durationMs: Date.now() - started };
    }
    const first = judged.find((r) => r.outcome === "failed");
    if (first) return { mutant: m, killedBy: first.case.id, message: first.message ?? "", durationMs: Date.now() - started };
    if (options.killersOnly) return { mutant: m, durationMs: Date.now() - started };
    for (;;) {
      const failed = (await judge(m.mode, dir, rest)).find((r) => r.outcome === "failed");
      if (!failed) return { mutant: m, durationMs: Date.now() - started };
      // Confirm on the unmutated source: a case that fails there is flaky, not a kill.
      const control = (await judge(m.mode, ROOT, [failed.case])).find((r) => r.outcome === "failed");
      if (!control) return { mutant: m, killedBy: failed.case.id, message: failed.message ?? "", unexpected: true, durationMs: Date.now() - started };
      rest.splice(rest.indexOf(failed.case), 1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
