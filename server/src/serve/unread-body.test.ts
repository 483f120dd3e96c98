// Requests over the message limit, against the real server process: every
// client reads `resource_exhausted` (not a reset it would report as
// `internal`) whatever the protocol, size and route, its connection stays
// usable, and the reference client splits its batch until the server takes it.
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDatabase } from "../../../client/src/db/database.js";
import { createSyncEngine } from "../../../client/src/node.js";
import { eventually, pushed, syncClient, type ProtocolVariant } from "./testing.js";
import { startCli, stopAllClis, type CliProcess } from "./testing-cli.js";

const MiB = 1024 * 1024;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const start = (env: Record<string, string> = {}) => startCli(["--storage", "memory"], { env });

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

/** One change whose document is `bytes` long: the message is refused for its size before anything looks inside. */
const oversized = (bytes: number) => [pushed("big", { blob: "x".repeat(bytes) }, 1)];

describe("a request over the message limit (8 MiB)", () => {
  let server: CliProcess;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(() => stopAllClis());

  // HTTP/2 clients failed from about 10 MiB (their own session memory), HTTP/1.1 ones when reset mid-write.
  const cases: Array<[ProtocolVariant, number[]]> = [
    ["grpc", [9, 20, 60]],
    ["connect-proto-h2", [20, 60]],
    ["grpc-web-h2", [20]],
    ["connect-json-h1", [40]],
    ["grpc-web-h1", [60]],
  ];
  it.each(cases)("is answered resource_exhausted over %s, and the connection stays usable", async (variant, sizes) => {
    const client = syncClient(server.url, variant);
    for (const size of sizes) {
      const error = await failure(client.push({ clientId: "big", changes: oversized(size * MiB) }));
      expect(`${size} MiB: ${Code[error.code]} ${error.rawMessage}`).toMatch(new RegExp(`^${size} MiB: ResourceExhausted `));
      // Same client, same connection or session.
      const after = await client.push({ clientId: `small-${variant}`, changes: [pushed(`after-${variant}-${size}`, {}, size)] });
      expect(after.results[0]?.outcome.case).toBe("accepted");
    }
  }, 30_000);

  it.each(["connect-proto-h2", "grpc", "connect-json-h1"] as const)("is answered resource_exhausted on Subscribe (its own route) over %s", async (variant) => {
    const client = syncClient(server.url, variant);
    const stream = client.subscribe({ collections: ["x".repeat(20 * MiB)] })[Symbol.asyncIterator]();
    const error = await failure(stream.next());
    expect(`${Code[error.code]} ${error.rawMessage}`).toMatch(/^ResourceExhausted /);
    const after = await client.push({ clientId: `after-subscribe-${variant}`, changes: [pushed(`after-subscribe-${variant}`, {}, 1)] });
    expect(after.results[0]?.outcome.case).toBe("accepted");
  });

  it("past the bound on what is read and dropped, is cut off without hurting other clients", async () => {
    const bounded = await start({ POCKET_MAX_DISCARD_BYTES: String(16 * MiB) });
    cleanups.push(() => bounded.stop());
    await failure(syncClient(bounded.url, "connect-proto-h2").push({ clientId: "big", changes: oversized(48 * MiB) }));
    const other = await syncClient(bounded.url, "grpc").push({ clientId: "other", changes: [pushed("other", {}, 1)] });
    expect(other.results[0]?.outcome.case).toBe("accepted");
  });

  it("is split by the reference client until the server takes it (gRPC, HTTP/2)", async () => {
    const db = await createDatabase({ name: "big-batch", storage: "memory" });
    const engine = createSyncEngine(db, { serverUrl: server.url, transport: "grpc", collections: ["todos"], batchSize: 24, retryDelay: 20, maxRetryDelay: 200 });
    cleanups.push(async () => {
      await engine.stop();
      await db.close();
    });
    const pad = "x".repeat(900 * 1024);
    for (let i = 0; i < 24; i++) await db.collection("todos").insert({ _id: `d${i}`, pad });
    // 24 documents of 900 KiB: 21 MiB, then 11 MiB refused; batches of 6 go through.
    await engine.forceSync();
    await eventually(async () => (await syncClient(server.url).pull({ collections: ["todos"], limit: 100 })).changes.filter((c) => /^d\d+$/.test(c.documentId)).length === 24, 20_000, "24 documents on the server");
  }, 30_000);
});
