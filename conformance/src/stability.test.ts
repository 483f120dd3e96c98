// The suite's stability check (issue 11): a case that fails now and then
// against a healthy implementation teaches implementers to ignore failures.
// Each run judges a fresh reference server with the whole server suite over
// all four protocols at once, while the whole client suite judges a healthy
// client; RUNS runs in a row must not fail once.
//
//   POCKET_CONFORMANCE_STABILITY_RUNS=20 [POCKET_CONFORMANCE_STABILITY_CLIENT=go|ts|python] \
//     npx vitest run conformance/src/stability.test.ts
//
// Off unless POCKET_CONFORMANCE_STABILITY_RUNS is set: 20 runs take minutes.
// .ci/run sets it whenever conformance/ changed, with the Go client (the
// quickest to start, so the client suite fits beside the four server runs);
// the TypeScript and Python clients are judged by every client case in
// client-typescript.test.ts, client-python.test.ts and conformance/run-ci.sh
// on every change.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCases } from "./cases.js";
import { runClientMode } from "./client-mode.js";
import { UNCLAIMED_BY_EXAMPLES, unexpectedSkips } from "./example-clients.js";
import { loadFeatures } from "./features.js";
import { loadKnownFailing, matchesAny, type CaseResult } from "./report.js";
import { runServerMode } from "./server-mode.js";
import { REFERENCE_FEATURES_FILE, REFERENCE_SETUP, ROOT, ServerProcess } from "./server-process.js";
import type { Protocol } from "./wire.js";

const RUNS = Number(process.env.POCKET_CONFORMANCE_STABILITY_RUNS ?? 0);
const CLIENT = process.env.POCKET_CONFORMANCE_STABILITY_CLIENT ?? "go";
const PROTOCOLS: readonly Protocol[] = ["connect-proto", "connect-json", "grpc", "grpc-web"];

const cases = loadCases();

/** Server cases the reference server is known to fail (conformance/known-failing-server.txt, as run-ci.sh reads it). */
const knownFailingServer = loadKnownFailing(join(ROOT, "conformance/known-failing-server.txt"));

function failures(results: readonly CaseResult[], what: string, known: readonly string[] = []): string[] {
  return results.filter((r) => r.outcome === "failed" && !matchesAny(r.case.id, known)).map((r) => `${what}: ${r.case.id}: ${r.message ?? ""}`);
}

describe.runIf(RUNS > 0)(`stability: the server suite over four protocols and the client suite (${CLIENT}), ${RUNS} runs in a row`, () => {
  let dir = "";
  let command: string[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pocket-stability-"));
    if (CLIENT === "go") {
      command = [join(dir, "go-client")];
      execFileSync("go", ["build", "-o", command[0]!, "./examples/go-client"], { cwd: ROOT, stdio: "inherit" });
    } else if (CLIENT === "python") {
      execFileSync("bash", ["scripts/setup-python.sh"], { cwd: ROOT, stdio: "inherit" });
      command = [join(ROOT, ".venv/bin/python"), "-m", "pocket_client", "control"];
    } else if (CLIENT === "ts") {
      command = [process.execPath, "--import", "tsx", join(ROOT, "conformance/adapters/ts-client.ts")];
    } else {
      throw new Error(`POCKET_CONFORMANCE_STABILITY_CLIENT must be go, ts or python, not ${CLIENT}`);
    }
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`passes ${RUNS} times in a row`, async () => {
    const features = loadFeatures(REFERENCE_FEATURES_FILE);
    const serverCases = cases.filter((c) => c.mode === "server");
    const clientCases = cases.filter((c) => c.mode === "client");
    for (let run = 1; run <= RUNS; run++) {
      const started = Date.now();
      const server = new ServerProcess({ ...REFERENCE_SETUP });
      await server.start();
      let results: { what: string; results: CaseResult[] }[];
      try {
        results = await Promise.all([
          ...PROTOCOLS.map(async (protocol) => ({
            what: `server over ${protocol}`,
            results: await runServerMode({
              target: {
                url: server.url,
                protocol,
                httpVersion: protocol === "grpc" ? "2" : "1.1",
                tokens: { token: REFERENCE_SETUP.token, token2: REFERENCE_SETUP.token2 },
                features,
              },
              cases: serverCases,
              timeoutMs: 60_000,
            }),
          })),
          (async () => ({ what: `client ${CLIENT}`, results: await runClientMode({ command, cases: clientCases, timeoutMs: 60_000, parallel: 4 }) }))(),
        ]);
      } finally {
        await server.stop();
      }
      const failed = results.flatMap((r) => failures(r.results, r.what, r.what.startsWith("server") ? knownFailingServer : []));
      const counts = results.map((r) => `${r.what} ${r.results.filter((x) => x.outcome === "passed").length}/${r.results.length}`).join(", ");
      process.stderr.write(`stability run ${run}/${RUNS}: ${failed.length ? `${failed.length} FAILED` : "passed"} in ${((Date.now() - started) / 1000).toFixed(0)} s (${counts})\n`);
      expect(failed, `run ${run} of ${RUNS}`).toEqual([]);
      // Nothing skipped: the reference server declares every feature, the clients every suite they
      // implement (the TypeScript client all; the examples all but UNCLAIMED_BY_EXAMPLES).
      const unclaimed = CLIENT === "ts" ? [] : UNCLAIMED_BY_EXAMPLES;
      for (const r of results) expect(unexpectedSkips(r.results, r.what.startsWith("client") ? unclaimed : []).map((x) => `${r.what}: ${x}`), `run ${run}: skipped`).toEqual([]);
      expect(results.map((r) => r.results.length)).toEqual([...PROTOCOLS.map(() => serverCases.length), clientCases.length]);
    }
  }, Math.max(1, RUNS) * 5 * 60_000);
});
