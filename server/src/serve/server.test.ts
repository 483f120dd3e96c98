// The real server on a port, driven through the generated Connect clients
// over every protocol variant.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { errorInfo, fieldViolations } from "../../../common/src/errors.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../../gen/ts/grpc/health/v1/health_pb.js";
import { CheckpointSchema, type ChangeEvent, type Checkpoint, type SubscribeResponse } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createLevelStorage } from "../storage/index.js";
import { hmacAuthenticator, signToken } from "./hmac-token.js";
import { tokenFileAuthenticator } from "./token-file.js";
import { eventually, PROTOCOL_VARIANTS, pushed, startServer, syncClient, tempDir, transportFor, type RunningServer } from "./testing.js";

const running: RunningServer[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  for (const cleanup of cleanups.splice(0)) cleanup();
});
async function start(options: Parameters<typeof startServer>[0] = {}) {
  const s = await startServer(options);
  running.push(s);
  return s;
}
function dir() {
  const d = tempDir();
  cleanups.push(d.remove);
  return d.path;
}
async function connectError(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

/** Reads a Subscribe stream in the background, collecting what arrives. */
function follow(stream: AsyncIterable<SubscribeResponse>) {
  const changes: ChangeEvent[] = [];
  const messages: SubscribeResponse[] = [];
  let checkpoint: Checkpoint | undefined;
  let ended: unknown = null;
  const done = (async () => {
    try {
      for await (const message of stream) {
        messages.push(message);
        if (message.event.case === "changes") changes.push(...message.event.value.changes);
        checkpoint = message.event.value?.checkpoint ?? checkpoint;
      }
      ended = "ok";
    } catch (error) {
      ended = error;
    }
  })();
  return { changes, messages, done, get checkpoint() { return checkpoint; }, get ended() { return ended; } };
}

describe.each(PROTOCOL_VARIANTS)("over %s", (variant) => {
  it("pushes, pulls and streams live changes", async () => {
    const { url } = await start();
    const client = syncClient(url, variant);
    const abort = new AbortController();
    const live = follow(client.subscribe({ collections: ["todos"], clientId: "b" }, { signal: abort.signal }));
    await eventually(() => live.messages.length > 0, 5_000, "the first stream message");
    const push = await client.push({ clientId: "a", changes: [pushed("t1", { title: "Café ☕", nested: { list: [1, null, true] } }, 1)] });
    expect(push.results[0]?.outcome.case).toBe("accepted");
    const pull = await client.pull({ collections: ["todos"] });
    expect(pull.changes.map((c) => JSON.parse(c.document))).toEqual([{ title: "Café ☕", nested: { list: [1, null, true] } }]);
    await eventually(() => live.changes.length === 1, 5_000, "the live change");
    expect(live.changes[0]?.documentId).toBe("t1");
    abort.abort();
    await live.done;
  });
});

describe("Subscribe", () => {
  it("sends its first message at once, caught up, even with nothing to send", async () => {
    const { url } = await start();
    const abort = new AbortController();
    const stream = syncClient(url).subscribe({ collections: ["todos"] }, { signal: abort.signal });
    const first = await stream[Symbol.asyncIterator]().next();
    expect(first.value?.event.case).toBe("changes");
    expect(first.value?.event.value.caughtUp).toBe(true);
    expect(first.value?.event.value.changes).toEqual([]);
    abort.abort();
  });

  it("catches up in pages, then goes live", async () => {
    const { url } = await start({ subscribePageSize: 3 });
    const client = syncClient(url);
    await client.push({ clientId: "a", changes: Array.from({ length: 10 }, (_, i) => pushed(`d${i}`, { i }, i + 1)) });
    const abort = new AbortController();
    const live = follow(client.subscribe({ collections: ["todos"] }, { signal: abort.signal }));
    await eventually(() => live.changes.length === 10);
    const pages = live.messages.filter((m) => m.event.case === "changes");
    expect(pages.length).toBe(4);
    expect(pages.map((m) => m.event.case === "changes" && m.event.value.caughtUp)).toEqual([false, false, false, true]);
    await client.push({ clientId: "a", changes: [pushed("late", {}, 11)] });
    await eventually(() => live.changes.length === 11);
    abort.abort();
  });

  it("sends heartbeats in silence, carrying the checkpoint", async () => {
    const { url } = await start();
    const abort = new AbortController();
    const live = follow(syncClient(url).subscribe({ collections: ["todos"], heartbeatIntervalMs: 100 }, { signal: abort.signal }));
    await eventually(() => live.messages.filter((m) => m.event.case === "heartbeat").length >= 2, 3_000, "two heartbeats");
    const beat = live.messages.find((m) => m.event.case === "heartbeat");
    expect(beat?.event.case === "heartbeat" && beat.event.value.checkpoint?.epoch).toBeTruthy();
    abort.abort();
  });

  it("resumes after a disconnect from the last checkpoint without missing or repeating a change", async () => {
    const { url } = await start();
    const client = syncClient(url);
    const first = new AbortController();
    const a = follow(client.subscribe({ collections: ["todos"] }, { signal: first.signal }));
    await client.push({ clientId: "w", changes: [pushed("one", {}, 1), pushed("two", {}, 2)] });
    await eventually(() => a.changes.length === 2);
    first.abort();
    await a.done;
    await client.push({ clientId: "w", changes: [pushed("three", {}, 3)] });
    const second = new AbortController();
    const b = follow(client.subscribe({ collections: ["todos"], checkpoint: a.checkpoint }, { signal: second.signal }));
    await client.push({ clientId: "w", changes: [pushed("four", {}, 4)] });
    await eventually(() => b.changes.length === 2);
    expect([...a.changes, ...b.changes].map((c) => c.documentId)).toEqual(["one", "two", "three", "four"]);
    second.abort();
  });

  it("ends promptly when its client goes away, leaving no subscription behind", async () => {
    const { url, server } = await start();
    const controllers = Array.from({ length: 20 }, () => new AbortController());
    const streams = controllers.map((c) => follow(syncClient(url).subscribe({ collections: ["todos"] }, { signal: c.signal })));
    await eventually(() => server.hub.size === 20, 5_000, "20 subscribers");
    controllers.forEach((c) => c.abort());
    await Promise.all(streams.map((s) => s.done));
    await eventually(() => server.hub.size === 0, 5_000, "subscriptions to close");
  });

  it("delivers every change exactly once, in order, to every subscriber while many clients push", async () => {
    const { url } = await start();
    const watchers = [new AbortController(), new AbortController()];
    const streams = watchers.map((c, i) => follow(syncClient(url, i === 0 ? "grpc" : "connect-json-h1").subscribe({ collections: ["todos"] }, { signal: c.signal })));
    const writers = Array.from({ length: 6 }, (_, w) =>
      (async () => {
        const client = syncClient(url, w % 2 ? "grpc" : "connect-proto-h2");
        for (let i = 1; i <= 25; i++) await client.push({ clientId: `w${w}`, changes: [pushed(`w${w}-${i}`, { i }, i)] });
      })(),
    );
    await Promise.all(writers);
    for (const stream of streams) {
      await eventually(() => stream.changes.length >= 150, 10_000, "150 changes");
      const ids = stream.changes.map((c) => c.documentId);
      expect(new Set(ids).size).toBe(150);
      const sequences = stream.changes.map((c) => c.serverSequence);
      expect(sequences).toEqual([...sequences].sort((x, y) => (x < y ? -1 : 1)));
    }
    watchers.forEach((c) => c.abort());
  });

  it("ends streams cleanly on graceful shutdown", async () => {
    const { url, server } = await startServer();
    const live = follow(syncClient(url).subscribe({ collections: ["todos"] }));
    await eventually(() => live.messages.length > 0);
    await server.close();
    await live.done;
    expect(live.ended).toBe("ok");
  });
});

describe("auth", () => {
  it("refuses calls without a valid token, and honours a revoked token once the file is reloaded", async () => {
    const tokens = join(dir(), "tokens");
    writeFileSync(tokens, "alice-token alice\nreader-token reader collections=todos readonly\n");
    const authenticate = tokenFileAuthenticator(tokens);
    cleanups.push(() => authenticate.close());
    const { url } = await start({ authenticate });
    const missing = await connectError(syncClient(url).pull({ collections: ["todos"] }));
    expect(missing.code).toBe(Code.Unauthenticated);
    expect(errorInfo(missing)?.reason).toBe("ERROR_REASON_UNAUTHENTICATED");
    expect((await connectError(syncClient(url, undefined, "nope").pull({ collections: ["todos"] }))).code).toBe(Code.Unauthenticated);
    const alice = syncClient(url, "connect-json-h1", "alice-token");
    expect((await alice.push({ clientId: "a", changes: [pushed("x", {}, 1)] })).results[0]?.outcome.case).toBe("accepted");

    writeFileSync(tokens, "reader-token reader collections=todos readonly\n# alice revoked\n");
    await authenticate.reload(); // what the watcher does within milliseconds
    expect((await connectError(alice.pull({ collections: ["todos"] }))).code).toBe(Code.Unauthenticated);
  });

  it("ends an open stream once its token is revoked, within a heartbeat", async () => {
    const tokens = join(dir(), "tokens");
    writeFileSync(tokens, "alice-token alice\n");
    const authenticate = tokenFileAuthenticator(tokens);
    cleanups.push(() => authenticate.close());
    const { url, server } = await start({ authenticate });
    const live = follow(syncClient(url, "grpc", "alice-token").subscribe({ collections: ["todos"], heartbeatIntervalMs: 100 }));
    await eventually(() => live.messages.some((m) => m.event.case === "heartbeat"), 5_000, "a heartbeat");
    writeFileSync(tokens, "# alice revoked\n");
    await live.done;
    expect(ConnectError.from(live.ended).code).toBe(Code.Unauthenticated);
    await eventually(() => server.hub.size === 0, 5_000, "the subscription to close");
  });

  it("filters by the principal's scope: unreadable collections are refused, read-only writes rejected per change", async () => {
    const secret = "a-secret-of-at-least-16-chars";
    const { url } = await start({ authenticate: hmacAuthenticator(secret) });
    const writer = syncClient(url, undefined, signToken(secret, { sub: "writer" }));
    await writer.push({ clientId: "w", changes: [pushed("t", {}, 1), pushed("s", {}, 2, { collection: "secrets" })] });
    const reader = syncClient(url, undefined, signToken(secret, { sub: "reader", collections: ["todos"], readOnly: true }));
    expect((await reader.pull({ collections: ["todos"] })).changes.map((c) => c.documentId)).toEqual(["t"]);
    const denied = await connectError(reader.pull({ collections: ["todos", "secrets"] }));
    expect(denied.code).toBe(Code.PermissionDenied);
    expect((await connectError(reader.subscribe({ collections: ["secrets"] })[Symbol.asyncIterator]().next())).code).toBe(Code.PermissionDenied);
    const push = await reader.push({ clientId: "r", changes: [pushed("mine", {}, 1)] });
    expect(push.results[0]?.outcome.case === "rejected" && push.results[0].outcome.value.code).toBe(Code.PermissionDenied);
    const expired = syncClient(url, undefined, signToken(secret, { sub: "old", exp: Math.floor(Date.now() / 1000) - 10 }));
    expect((await connectError(expired.pull({ collections: ["todos"] }))).code).toBe(Code.Unauthenticated);
  });
});

describe("limits and malformed input", () => {
  it("refuses a batch over 500 changes, naming the field", async () => {
    const { url } = await start();
    const error = await connectError(syncClient(url).push({ clientId: "a", changes: Array.from({ length: 501 }, (_, i) => pushed(`d${i}`, {}, i + 1)) }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(fieldViolations(error).map((v) => v.field)).toContain("changes");
  });

  it("refuses a document over 1 MiB and a message over the server's limit", async () => {
    const { url } = await start({ maxMessageBytes: 256 * 1024 });
    const client = syncClient(url, "connect-json-h1");
    const big = await connectError(client.push({ clientId: "a", changes: [pushed("big", { blob: "x".repeat(1024 * 1024) }, 1)] }));
    expect([Code.InvalidArgument, Code.ResourceExhausted]).toContain(big.code);
    const many = Array.from({ length: 100 }, (_, i) => pushed(`d${i}`, { blob: "y".repeat(4000) }, i + 1));
    const tooLarge = await connectError(syncClient(url, "connect-proto-h2").push({ clientId: "a", changes: many }));
    expect(tooLarge.code).toBe(Code.ResourceExhausted);
    // Nothing of either was stored.
    expect((await client.pull({ collections: ["todos"] })).changes).toEqual([]);
  });

  it("refuses an oversized message on every protocol, and the connection stays usable", async () => {
    const { url } = await start({ maxMessageBytes: 256 * 1024 });
    for (const variant of PROTOCOL_VARIANTS) {
      const client = syncClient(url, variant);
      for (let attempt = 0; attempt < 2; attempt++) {
        const error = await connectError(client.push({ clientId: "a", changes: [pushed("big", { blob: "x".repeat(2 * 1024 * 1024) }, 1)] }));
        expect(`${variant}: ${Code[error.code]}`).toBe(`${variant}: ${Code[Code.ResourceExhausted]}`);
        expect((await client.pull({ collections: ["todos"] })).changes).toEqual([]);
      }
    }
  });

  it("refuses malformed ids, empty requests and invalid checkpoints with field paths", async () => {
    const { url } = await start();
    const client = syncClient(url);
    const badId = await connectError(client.push({ clientId: "bad id!", changes: [pushed("ok", {}, 1, { collection: "9bad" })] }));
    expect(badId.code).toBe(Code.InvalidArgument);
    expect(fieldViolations(badId).map((v) => v.field).sort()).toEqual(["changes[0].collection", "client_id"]);
    expect((await connectError(client.push({ clientId: "a", changes: [] }))).code).toBe(Code.InvalidArgument);
    const foreign = create(CheckpointSchema, { epoch: "not-this-server", collections: { todos: 5n } });
    const resync = await connectError(client.pull({ collections: ["todos"], checkpoint: foreign }));
    expect(resync.code).toBe(Code.FailedPrecondition);
    expect(errorInfo(resync)).toEqual({ reason: "ERROR_REASON_RESYNC_REQUIRED", metadata: { collections: "todos" } });
    // Naming no collection (every collection, §4.8), even on a server holding none yet.
    const everything = await connectError(client.pull({ collections: [], checkpoint: foreign }));
    expect(errorInfo(everything)).toEqual({ reason: "ERROR_REASON_RESYNC_REQUIRED", metadata: { collections: "todos" } });
    expect((await client.pull({ collections: [] })).changes).toEqual([]);
  });

  it("rejects a document that is not a JSON object without harming the rest of the batch", async () => {
    const { url } = await start();
    const client = syncClient(url);
    const bad = { ...pushed("bad", {}, 2), document: '{"unterminated": ' };
    const { results } = await client.push({ clientId: "a", changes: [pushed("good", {}, 1), bad] });
    expect(results.map((r) => r.outcome.case)).toEqual(["accepted", "rejected"]);
    expect(results[1]?.outcome.case === "rejected" && results[1].outcome.value.fieldViolations[0]?.field).toBe("changes[1].document");
  });
});

describe("push and pull over the wire", () => {
  it("pages a pull with limit and has_more, never skipping or repeating", async () => {
    const { url } = await start();
    const client = syncClient(url, "connect-json-h1");
    await client.push({ clientId: "a", changes: Array.from({ length: 25 }, (_, i) => pushed(`d${i}`, { i }, i + 1)) });
    const seen: string[] = [];
    let checkpoint: Checkpoint | undefined;
    let pages = 0;
    for (;;) {
      const page = await client.pull({ collections: ["todos"], checkpoint, limit: 10 });
      pages++;
      seen.push(...page.changes.map((c) => c.documentId));
      checkpoint = page.checkpoint;
      if (!page.hasMore) break;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `d${i}`));
  });

  it("answers a retried push with the original results and applies it once", async () => {
    const { url } = await start();
    const client = syncClient(url, "grpc");
    const request = { clientId: "retry", changes: [pushed("a", { n: 1 }, 1), pushed("b", { n: 2 }, 2)] };
    const first = await client.push(request);
    const second = await syncClient(url, "connect-json-h1").push(request);
    expect(second.results).toEqual(first.results);
    expect((await client.pull({ collections: ["todos"] })).changes.length).toBe(2);
  });

  it.each([
    ["report", "conflict", '{"v":"server","s":1}'],
    ["server-wins", "resolved", '{"v":"server","s":1}'],
    ["client-wins", "resolved", '{"v":"client","c":1}'],
    ["last-write-wins", "resolved", '{"v":"client","c":1}'],
    ["merge", "resolved", '{"v":"client","s":1,"c":1}'],
  ] as const)("settles a conflict by %s", async (strategy, outcome, document) => {
    const { url } = await start({ conflicts: { default: strategy } });
    const client = syncClient(url);
    const created = await client.push({ clientId: "s", changes: [pushed("d", { v: "base" }, 1)] });
    const base = created.results[0]?.outcome.case === "accepted" ? created.results[0].outcome.value.revision : "";
    await client.push({ clientId: "s", changes: [pushed("d", { v: "server", s: 1 }, 2, { baseRevision: base })] });
    const { results } = await client.push({ clientId: "c", changes: [pushed("d", { v: "client", c: 1 }, 1, { baseRevision: base })] });
    expect(results[0]?.outcome.case).toBe(outcome);
    const current = results[0]?.outcome.case === "conflict" || results[0]?.outcome.case === "resolved" ? results[0].outcome.value.current : undefined;
    expect(JSON.parse(current?.document ?? "null")).toEqual(JSON.parse(document));
    const stored = (await client.pull({ collections: ["todos"] })).changes[0];
    expect(JSON.parse(stored?.document ?? "null")).toEqual(JSON.parse(document));
  });

  it.each([
    ["a pull page over 1000", (c: ReturnType<typeof syncClient>) => c.pull({ collections: ["todos"], limit: 1001 }), "limit"],
    ["65 collections", (c: ReturnType<typeof syncClient>) => c.pull({ collections: Array.from({ length: 65 }, (_, i) => `c${i}`) }), "collections"],
    ["a repeated collection", (c: ReturnType<typeof syncClient>) => c.pull({ collections: ["todos", "todos"] }), "collections"],
    ["a 257-character document id", (c: ReturnType<typeof syncClient>) => c.push({ clientId: "a", changes: [pushed("x".repeat(257), {}, 1)] }), "changes[0].document_id"],
    ["a 129-character client id", (c: ReturnType<typeof syncClient>) => c.push({ clientId: "c".repeat(129), changes: [pushed("x", {}, 1)] }), "client_id"],
    ["two changes to one document", (c: ReturnType<typeof syncClient>) => c.push({ clientId: "a", changes: [pushed("x", {}, 1), pushed("x", {}, 2)] }), ""],
    ["a reused client sequence", (c: ReturnType<typeof syncClient>) => c.push({ clientId: "a", changes: [pushed("x", {}, 1), pushed("y", {}, 1)] }), ""],
    ["client sequence 0", (c: ReturnType<typeof syncClient>) => c.push({ clientId: "a", changes: [pushed("x", {}, 0)] }), "changes[0].client_sequence"],
    ["a delete with a document", (c: ReturnType<typeof syncClient>) => c.push({ clientId: "a", changes: [{ ...pushed("x", { a: 1 }, 1), operation: 3 }] }), ""],
    ["a heartbeat interval over 300 s", (c: ReturnType<typeof syncClient>) => c.subscribe({ collections: ["todos"], heartbeatIntervalMs: 300_001 })[Symbol.asyncIterator]().next(), "heartbeat_interval_ms"],
  ])("refuses %s as invalid_argument", async (_what, call, field) => {
    const { url } = await start();
    const error = await connectError(call(syncClient(url)) as Promise<unknown>);
    expect(error.code).toBe(Code.InvalidArgument);
    expect(errorInfo(error)?.reason).toBe("ERROR_REASON_INVALID_ARGUMENT");
    const fields = fieldViolations(error).map((v) => v.field);
    expect(fields.length).toBeGreaterThan(0);
    if (field) expect(fields).toContain(field);
  });
});

describe("tombstones", () => {
  it("replicates deletes, purges them after retention and sends a too-old checkpoint to resync", async () => {
    const { url, server } = await start({ tombstoneRetentionMs: 1 });
    const client = syncClient(url, "connect-json-h1");
    const created = await client.push({ clientId: "a", changes: [pushed("gone", { n: 1 }, 1), pushed("kept", { n: 2 }, 2)] });
    const revision = created.results[0]?.outcome.case === "accepted" ? created.results[0].outcome.value.revision : "";
    const old = (await client.pull({ collections: ["todos"] })).checkpoint;
    await client.push({ clientId: "a", changes: [pushed("gone", null, 3, { baseRevision: revision })] });
    const withTombstone = await client.pull({ collections: ["todos"], checkpoint: old });
    expect(withTombstone.changes.map((c) => [c.documentId, c.deleted, c.document])).toEqual([["gone", true, ""]]);
    await new Promise((r) => setTimeout(r, 5));
    expect((await server.core.purge()).tombstonesPurged).toBe(1);
    const error = await connectError(client.pull({ collections: ["todos"], checkpoint: old }));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(errorInfo(error)?.reason).toBe("ERROR_REASON_RESYNC_REQUIRED");
    const subscribeError = await connectError(client.subscribe({ collections: ["todos"], checkpoint: old })[Symbol.asyncIterator]().next());
    expect(subscribeError.code).toBe(Code.FailedPrecondition);
    // Resync from the beginning: the purged document simply is not there.
    expect((await client.pull({ collections: ["todos"] })).changes.map((c) => c.documentId)).toEqual(["kept"]);
    expect((await client.pull({ collections: ["todos"], checkpoint: withTombstone.checkpoint })).changes).toEqual([]);
  });
});

describe("durability", () => {
  it("keeps all data, sequences and the epoch across a restart on the same LevelDB directory", async () => {
    const path = dir();
    const first = await startServer({ storage: createLevelStorage(path) });
    const client = syncClient(first.url);
    await client.push({ clientId: "a", changes: Array.from({ length: 20 }, (_, i) => pushed(`d${i}`, { i }, i + 1)) });
    const before = await client.pull({ collections: ["todos"] });
    await first.close();

    const second = await start({ storage: createLevelStorage(path) });
    const again = syncClient(second.url);
    const after = await again.pull({ collections: ["todos"] });
    expect(after.changes).toEqual(before.changes);
    expect(after.checkpoint?.epoch).toBe(before.checkpoint?.epoch);
    const next = await again.push({ clientId: "a", changes: [pushed("new", {}, 21)] });
    expect(next.results[0]?.outcome.case === "accepted" && next.results[0].outcome.value.serverSequence).toBe(21n);
    // The old checkpoint still resumes exactly where it was.
    expect((await again.pull({ collections: ["todos"], checkpoint: before.checkpoint })).changes.map((c) => c.documentId)).toEqual(["new"]);
  });
});

describe("operations", () => {
  it("answers the grpc.health.v1 check, serves metrics and CORS preflights", async () => {
    const { url } = await start();
    const health = createClient(Health, transportFor(url, "grpc"));
    expect((await health.check({ service: "pocket.sync.v1.SyncService" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await connectError(health.check({ service: "nope" }))).code).toBe(Code.NotFound);
    await syncClient(url).pull({ collections: ["todos"] });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/pocket_sync_pulls_total 1/);
    expect(metrics).toMatch(/pocket_sync_rpc_duration_seconds_count\{method="Pull",code="ok"\} 1/);
    const preflight = await fetch(`${url}/pocket.sync.v1.SyncService/Push`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type,connect-protocol-version" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
  });
});
