// The run-time import graph of TypeScript sources, for the tests that check
// what a part of the project may depend on (type-only imports are erased at
// run time and do not count).
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

export interface ImportGraph {
  /** Every repository file reached, as absolute paths. */
  readonly files: Set<string>;
  /** Every package imported (bare specifiers). */
  readonly packages: Set<string>;
}

export function importGraph(entries: readonly string[]): ImportGraph {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)(?!\s+type\b)[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
      else packages.add(spec);
    }
  };
  for (const entry of entries) visit(entry);
  return { files, packages };
}
