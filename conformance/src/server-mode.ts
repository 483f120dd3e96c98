// Server mode: plays several clients against a running server, case by case.
import type { CaseDef } from "./cases.js";
import { missingFeature } from "./features.js";
import { runCase, type CaseResult } from "./report.js";
import { ServerContext, type ServerTarget } from "./server-context.js";
import { runSteps } from "./steps.js";
import { serverCheck } from "./suites.js";
import { Skip, Wire } from "./wire.js";

export interface ServerRunOptions {
  readonly target: ServerTarget;
  readonly cases: readonly CaseDef[];
  readonly timeoutMs?: number;
  readonly parallel?: number;
  readonly onResult?: (r: CaseResult) => void;
  /** Stop starting cases after the first failure (mutation testing needs one). */
  readonly bail?: boolean;
}

export async function runServerMode(options: ServerRunOptions): Promise<CaseResult[]> {
  const cases = options.cases.filter((c) => c.mode === "server");
  for (const c of cases) if (c.check !== undefined) serverCheck(c); // an unknown check fails the run before any case
  const results: CaseResult[] = new Array(cases.length);
  const wire = new Wire();
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < cases.length && !(options.bail && failed)) {
      const index = next++;
      const c = cases[index]!;
      const result = await runCase(c, options.timeoutMs ?? 60_000, async (signal) => {
        for (const feature of c.requires) {
          const missing = missingFeature(options.target.features, options.target.tokens, feature);
          if (missing) throw new Skip(missing);
        }
        const ctx = new ServerContext(options.target, wire, signal, index);
        if (c.check !== undefined) await serverCheck(c)(ctx, c.params);
        else await runSteps(c.steps ?? [], ctx);
      });
      results[index] = result;
      if (result.outcome === "failed") failed = true;
      options.onResult?.(result);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.parallel ?? 4) }, worker));
  } finally {
    wire.close();
  }
  return results.filter((r) => r !== undefined);
}
