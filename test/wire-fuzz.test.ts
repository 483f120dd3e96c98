// A bounded fuzz of the real server over every wire format: valid requests of
// each RPC, framed for Connect (JSON, binary, GET), gRPC and gRPC-Web, then
// mutated (bit flips, truncation, huge varints, wrong envelope lengths and
// flags, corrupt compression, random bytes, deep JSON, bad UTF-8, wrong
// content types), plus valid requests clients should not send (thousands of
// changes, documents nested 200,000 levels). For every answer: a client's
// mistake is never `internal` or `unknown` (clients retry those forever,
// PROTOCOL §9.6), and an invalid_argument carries ErrorInfo. After all of
// them: nothing is stored that no answer acknowledged, the server logged no
// error, and it still serves valid calls on every protocol.
//
// The server is the CLI in its own process, as deployed: a crash shows, and it
// has a core of its own. Deterministic: POCKET_FUZZ_SEED (default below) and
// POCKET_FUZZ_RUNS pick the cases; POCKET_FUZZ_CASE=n runs case n alone. A
// failure prints the seed, the case and its bytes.
import { fromBinary, fromJsonString } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type ServerProcess } from "../client/src/test-support/server-process.js";
import { PushResponseSchema, type PushResponse } from "../gen/ts/pocket/sync/v1/sync_pb.js";
import { RawWire, type RawAnswer } from "../server/src/serve/test-support/raw-wire.js";
import { PROTOCOL_VARIANTS, pushed, syncClient } from "../server/src/serve/testing.js";
import { FUZZ_COLLECTIONS, fuzzCase, type FuzzCase } from "./wire-fuzz-cases.js";

const SEED = Number(process.env.POCKET_FUZZ_SEED ?? 20_251_010);
const RUNS = Number(process.env.POCKET_FUZZ_RUNS ?? 20_000);
const ONLY = process.env.POCKET_FUZZ_CASE === undefined ? undefined : Number(process.env.POCKET_FUZZ_CASE);
const CONCURRENCY = 8;

/**
 * Answers that blame the server: a client would retry them forever. (Other
 * 5xx statuses are fine when they carry a code a client acts on, such as
 * unimplemented for an unknown compression.)
 */
const SERVER_FAULTS = new Set(["internal", "unknown", "data_loss"]);
const isServerFault = (answer: RawAnswer) => SERVER_FAULTS.has(answer.code) || /^http_5/.test(answer.code);

interface Failure {
  readonly what: string;
  readonly detail: string;
}

function describeCase(c: FuzzCase): string {
  const body = c.request.body ? Buffer.from(c.request.body.subarray(0, 96)).toString("hex") : "";
  return `case ${c.index} (seed ${SEED}): ${c.rpc} over ${c.channel} [${c.mutations.join(", ") || "unmutated"}] ${c.request.method} ${c.request.path.slice(0, 120)} ${JSON.stringify(c.request.headers)} body ${c.request.body?.length ?? 0} bytes ${body}`;
}

function pushResponse(answer: RawAnswer): PushResponse {
  const bytes = answer.messages[0] ?? new Uint8Array();
  return answer.contentType.includes("json") ? fromJsonString(PushResponseSchema, new TextDecoder().decode(bytes)) : fromBinary(PushResponseSchema, bytes);
}

describe("wire fuzz", () => {
  let server: ServerProcess;
  let wire: RawWire;
  beforeAll(async () => {
    const strategies = Object.entries(FUZZ_COLLECTIONS).map(([collection, strategy]) => `${collection}=${strategy}`);
    server = await startServer({ storage: "memory", args: ["--conflict-strategy", strategies.join(",")] });
    wire = new RawWire(server.url);
  }, 60_000);
  afterAll(async () => {
    wire?.close();
    await server?.stop();
  });

  it(`answers ${ONLY === undefined ? RUNS : 1} malformed requests with client errors, stores nothing refused and keeps serving`, async () => {
    // Something to conflict with from the start.
    const seeded = await syncClient(server.url).push({
      clientId: "seed",
      changes: Object.keys(FUZZ_COLLECTIONS).flatMap((collection, c) =>
        Array.from({ length: 40 }, (_, d) => pushed(`d${d}-`, { seeded: true, nested: { n: d } }, c * 100 + d + 1, { collection }))),
    });
    const acknowledged = new Set<string>();
    for (const r of seeded.results) if (r.outcome.case === "accepted") acknowledged.add(r.outcome.value.revision);
    expect(acknowledged.size).toBe(seeded.results.length);

    const failures: Failure[] = [];
    const counts = new Map<string, number>();
    const indexes = ONLY === undefined ? Array.from({ length: RUNS }, (_, i) => i) : [ONLY];
    let next = 0;
    const started = Date.now();
    const worker = async () => {
      while (next < indexes.length) {
        const c = fuzzCase(SEED, indexes[next++]!);
        let answer: RawAnswer;
        try {
          answer = await wire.send(c.request);
        } catch (error) {
          failures.push({ what: `no answer: ${(error as Error).message}`, detail: describeCase(c) });
          continue;
        }
        const key = `${c.rpc} ${answer.code}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        if (isServerFault(answer)) {
          failures.push({ what: `${answer.code} (HTTP ${answer.httpStatus}): ${answer.message}`, detail: describeCase(c) });
          continue;
        }
        if (answer.code === "invalid_argument" && answer.reason === undefined) {
          failures.push({ what: `invalid_argument without ErrorInfo: ${answer.message}`, detail: describeCase(c) });
        }
        if (c.rpc === "Push" && answer.code === "ok") {
          try {
            for (const r of pushResponse(answer).results) {
              if (r.outcome.case === "accepted") acknowledged.add(r.outcome.value.revision);
              if (r.outcome.case === "resolved" && r.outcome.value.current) acknowledged.add(r.outcome.value.current.revision);
            }
          } catch (error) {
            failures.push({ what: `undecodable push response: ${(error as Error).message}`, detail: describeCase(c) });
          }
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsed = Date.now() - started;

    // Nothing stored that no answer acknowledged: every visible change is one
    // some push was told about.
    const client = syncClient(server.url);
    const collections = Object.keys(FUZZ_COLLECTIONS);
    let checkpoint;
    const unacknowledged: string[] = [];
    for (;;) {
      const page = await client.pull({ collections, checkpoint, limit: 1000 });
      for (const change of page.changes) {
        if (!acknowledged.has(change.revision)) unacknowledged.push(`${change.collection}/${change.documentId}@${change.revision}`);
      }
      checkpoint = page.checkpoint;
      if (!page.hasMore) break;
    }

    // Still serving, on every protocol.
    for (const [i, variant] of PROTOCOL_VARIANTS.entries()) {
      const c = syncClient(server.url, variant);
      const res = await c.push({ clientId: "after-fuzz", changes: [pushed(`after-${variant}`, { ok: true }, i + 1)] });
      expect(res.results[0]?.outcome.case, variant).toBe("accepted");
      expect((await c.pull({ collections: ["todos"], limit: 1 })).checkpoint).toBeDefined();
    }

    const summary = [...counts].sort().map(([k, n]) => `${k}: ${n}`).join(", ");
    const byKind = new Map<string, Failure[]>();
    for (const f of failures) byKind.set(f.what.slice(0, 90), [...(byKind.get(f.what.slice(0, 90)) ?? []), f]);
    const report = [...byKind].map(([what, list]) => `${list.length}x ${what}\n    e.g. ${list[0]!.detail}`).join("\n");
    expect(failures.length, `seed ${SEED}, ${indexes.length} cases in ${elapsed} ms (${summary})\n${report}`).toBe(0);
    expect(unacknowledged, `seed ${SEED}: stored but never acknowledged`).toEqual([]);
    if (ONLY === undefined) expect(counts.size).toBeGreaterThan(10);
    // Nothing the server had to complain about (it logs at warn and above here).
    expect(server.output.split("\n").filter((line) => /error|exception|fail/i.test(line))).toEqual([]);
    // 20,000 cases cost about 20 s of server CPU and 9 s in this process: about
    // 25 s on two idle cores; the margin is for a loaded machine.
  }, 300_000);
});
