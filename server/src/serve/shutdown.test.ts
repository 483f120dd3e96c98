// SIGTERM with work in flight, against the real server process on LevelDB:
// requests already sent finish and are answered, streams end cleanly, new
// connections are refused, and the process exits 0 within its grace period;
// after a restart on the same data, every acknowledged push is there.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../../gen/ts/grpc/health/v1/health_pb.js";
import type { SubscribeResponse } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { eventually, pushed, syncClient, tempDir, transportFor, type ProtocolVariant } from "./testing.js";
import { metric, startCli, stopAllClis } from "./testing-cli.js";

const cleanups: Array<() => void> = [];
afterEach(async () => {
  await stopAllClis();
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function follow(stream: AsyncIterable<SubscribeResponse>) {
  const state = { messages: 0, ended: undefined as undefined | "end of stream" | ConnectError };
  void (async () => {
    try {
      for await (const _ of stream) state.messages++;
      state.ended = "end of stream";
    } catch (error) {
      state.ended = ConnectError.from(error);
    }
  })();
  return state;
}

type Outcome = { clientId: string; documents: string[]; result: "acknowledged" | ConnectError };

describe("SIGTERM", () => {
  it("answers every request already sent, ends streams cleanly, refuses new connections and exits 0", async () => {
    const graceMs = 8_000;
    const dir = tempDir();
    cleanups.push(dir.remove);
    const args = ["--data-dir", dir.path, "--shutdown-grace-ms", String(graceMs)];
    const server = await startCli(args);

    // Ten HTTP/2 sessions for pushes, opened beforehand as clients keep them.
    const pushers = Array.from({ length: 10 }, (_, i) => syncClient(server.url, i % 2 ? "grpc" : "connect-proto-h2"));
    await Promise.all(pushers.map((client) => client.pull({ collections: ["todos"] })));
    // 100 streams over HTTP/2 sessions and HTTP/1.1 connections.
    const variants: ProtocolVariant[] = ["connect-proto-h2", "grpc", "grpc-web-h2", "connect-json-h1"];
    const streamers = variants.map((variant) => syncClient(server.url, variant));
    const streams = Array.from({ length: 100 }, (_, i) =>
      follow((i % 10 === 0 ? syncClient(server.url, "connect-json-h1") : streamers[i % 3]!).subscribe({ collections: ["todos"] })),
    );
    await eventually(() => streams.every((s) => s.messages > 0), 10_000, "100 streams caught up");

    const push = (client: (typeof pushers)[number], clientId: string, size: number): Promise<Outcome> => {
      const changes = Array.from({ length: size }, (_, i) => pushed(`${clientId}-${i}`, { i, pad: "x".repeat(200) }, i + 1));
      const documents = changes.map((c) => c.documentId);
      return client.push({ clientId, changes }).then(
        (response) => {
          expect(response.results.every((r) => r.outcome.case === "accepted")).toBe(true);
          return { clientId, documents, result: "acknowledged" as const };
        },
        (error: unknown) => ({ clientId, documents, result: ConnectError.from(error) }),
      );
    };
    // The health watch hears NOT_SERVING as shutdown begins.
    const health = createClient(Health, transportFor(server.url, "grpc")).watch({ service: "" })[Symbol.asyncIterator]();
    expect((await health.next()).value?.status).toBe(HealthCheckResponse_ServingStatus.SERVING);

    // Five clients pushing back to back across the SIGTERM, until refused:
    // some push always crosses the GOAWAY on the wire.
    const busy = pushers.slice(5).map(async (client, c) => {
      const outcomes: Outcome[] = [];
      for (let i = 0; i < 2_000; i++) {
        const outcome = await push(client, `busy-${c}-${i}`, 1);
        outcomes.push(outcome);
        if (outcome.result !== "acknowledged") break;
      }
      return outcomes;
    });
    const before = await metric(server.url, "pocket_sync_connections");
    const inFlight = [
      ...Array.from({ length: 60 }, (_, i) => push(pushers[i % 10]!, `inflight-${i}`, 40)),
      // And over HTTP/1.1, each on a new connection.
      ...Array.from({ length: 10 }, (_, i) => push(syncClient(server.url, "connect-json-h1"), `inflight-h1-${i}`, 40)),
    ];
    // In flight means received: those new connections are accepted first. (A
    // connection the kernel has completed but the server not yet accepted
    // when it closes its port is reset, as with any server.)
    await eventually(async () => (await metric(server.url, "pocket_sync_connections")) >= before + 10, 5_000, "the HTTP/1.1 connections to be accepted");
    const last = push(pushers[0]!, "last", 5);
    const signalledAt = Date.now();
    const exit = server.stop("SIGTERM").then(() => Date.now() - signalledAt);
    // Sent once shutdown has begun, on sessions that may or may not have
    // heard the GOAWAY yet: answered, or refused before being received.
    expect((await health.next()).value?.status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
    const late = pushers.slice(0, 5).map((client, i) => push(client, `late-${i}`, 1));

    const sent = await Promise.all([...inFlight, last]);
    const racing = [...(await Promise.all(late)), ...(await Promise.all(busy)).flat()];
    const outcomes = [...sent, ...racing];
    const ms = await exit;
    expect(server.child.exitCode).toBe(0);
    expect(ms).toBeLessThan(graceMs);
    const failed = (list: Outcome[]) => list.filter((o) => o.result !== "acknowledged").map((o) => `${o.clientId}: ${Code[(o.result as ConnectError).code]} ${(o.result as ConnectError).rawMessage}`);
    // Sent before the SIGTERM: answered (or refused a connection: unavailable).
    expect(failed(sent).filter((f) => !/^\S+ Unavailable /.test(f))).toEqual([]);
    expect(sent.find((o) => o.clientId === "last")?.result).toBe("acknowledged");
    // Racing the GOAWAY: a push the client library had queued but not yet
    // written when it read the GOAWAY is refused by the library itself
    // (REFUSED_STREAM: never sent, RFC 9113 §8.7), which connect-node reports
    // as internal; no server can prevent that. It is not stored (below).
    expect(failed(racing).filter((f) => !/^\S+ (Unavailable |Internal .*NGHTTP2_REFUSED_STREAM)/.test(f))).toEqual([]);
    await eventually(() => streams.every((s) => s.ended !== undefined), 2_000, "every stream to end");
    expect(streams.filter((s) => s.ended !== "end of stream").map((s) => String(s.ended))).toEqual([]);

    const restarted = await startCli(args);
    const stored = new Set<string>();
    const reader = syncClient(restarted.url);
    for (let checkpoint = undefined, more = true; more; ) {
      const page = await reader.pull({ collections: ["todos"], checkpoint, limit: 1000 });
      for (const change of page.changes) stored.add(change.documentId);
      checkpoint = page.checkpoint;
      more = page.hasMore;
    }
    for (const outcome of outcomes) {
      const present = outcome.documents.filter((d) => stored.has(d)).length;
      expect(`${outcome.clientId}: ${present}`).toBe(`${outcome.clientId}: ${outcome.result === "acknowledged" ? outcome.documents.length : 0}`);
    }
    // About 10 s on two idle cores; starting the server twice is most of it,
    // and that alone took 10 s each with two CPU burners beside it.
  }, 60_000);
});
