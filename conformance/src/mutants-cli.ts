#!/usr/bin/env node
// npm run conformance:mutants: runs the mutation catalogue (mutants.ts).
//
//   npm run conformance:mutants                      every mutant, every case until one fails
//   npm run conformance:mutants -- --fast            the fast subset, each against its killers only (CI)
//   npm run conformance:mutants -- --killers-only    every mutant, against its killers only
//   npm run conformance:mutants -- --only ID ID ...  some mutants (--only once, then their ids)
//   npm run conformance:mutants -- --mode server     one catalogue
//   npm run conformance:mutants -- --check           only check that every mutant still applies
import { parseArgs } from "node:util";
import type { Mode } from "./cases.js";
import { judgeMutant, loadCatalogue, mutatedSource, type Mutant, type MutantResult } from "./mutants.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    fast: { type: "boolean" },
    "killers-only": { type: "boolean" },
    only: { type: "string", multiple: true },
    mode: { type: "string" },
    parallel: { type: "string" },
    check: { type: "boolean" },
  },
});

const modes: Mode[] = values.mode === "server" || values.mode === "client" ? [values.mode] : ["server", "client"];
let mutants: Mutant[] = modes.flatMap((m) => loadCatalogue(m));
const only = [...(values.only ?? []), ...positionals];
if (positionals.length && !values.only?.length) throw new Error(`unexpected arguments: ${positionals.join(" ")} (mutant ids follow --only)`);
if (only.length) {
  const unknown = only.filter((id) => !mutants.some((m) => m.id === id));
  if (unknown.length) throw new Error(`unknown mutants: ${unknown.join(", ")}`);
  mutants = mutants.filter((m) => only.includes(m.id));
} else if (values.fast) {
  mutants = mutants.filter((m) => m.fast);
}

// Every mutant must still apply to today's source, before anything runs.
for (const m of mutants) mutatedSource(m);
if (values.check) {
  console.log(`${mutants.length} mutants apply`);
  process.exit(0);
}

const started = Date.now();
const results: MutantResult[] = [];
let next = 0;
const worker = async () => {
  while (next < mutants.length) {
    const m = mutants[next++]!;
    const r = await judgeMutant(m, { killersOnly: (values.fast ?? false) || (values["killers-only"] ?? false) });
    results.push(r);
    const seconds = (r.durationMs / 1000).toFixed(1);
    if (r.broken) {
      console.log(`BROKEN   ${m.mode} ${m.id}: the mutated source does not run (fix the catalogue):\n${r.broken}`);
    } else if (r.killedBy) {
      console.log(`KILLED   ${m.mode} ${m.id} by ${r.killedBy}${r.unexpected ? " (not among its killers)" : ""} (${seconds} s)`);
    } else {
      console.log(`SURVIVED ${m.mode} ${m.id} (${seconds} s): ${m.why}`);
    }
  }
};
await Promise.all(Array.from({ length: Math.max(1, Number(values.parallel ?? 2)) }, worker));

for (const mode of modes) {
  const mine = results.filter((r) => r.mutant.mode === mode);
  if (mine.length === 0) continue;
  const killed = mine.filter((r) => r.killedBy).length;
  console.log(`${mode}: ${killed} of ${mine.length} mutants killed (${((100 * killed) / mine.length).toFixed(0)}%)`);
}
const survivors = results.filter((r) => !r.killedBy);
const broken = results.filter((r) => r.broken);
if (broken.length) console.log(`${broken.length} mutants do not run: ${broken.map((r) => r.mutant.id).join(", ")}`);
console.log(`${results.length - survivors.length} of ${results.length} killed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(survivors.length ? 1 : 0);
