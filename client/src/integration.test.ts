// Two and three clients against the reference server running as a child
// process on a real port. Every wait is on a condition, not a fixed sleep.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { firstValueFrom, filter } from "rxjs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, createSyncEngine, type Doc } from "./index.js";
import type { ConflictStrategy, SyncStatus } from "./engine/engine.js";
import { createSyncEngine as createNodeEngine } from "./node.js";
import { makeClient, serverSnapshot, waitConverged, type TestClient } from "./test-support/harness.js";
import { startServer, waitFor, type ServerProcess } from "./test-support/server-process.js";

const clients: TestClient[] = [];
async function client(name: string, server: ServerProcess, config: Partial<Parameters<typeof makeClient>[1]> & { collections: string[] }) {
  const c = await makeClient(name, { serverUrl: server.url, ...config });
  clients.push(c);
  return c;
}
afterEach(async () => {
  for (const c of clients.splice(0)) {
    await c.engine.stop();
    await c.db.close();
  }
});

const statusOf = (c: TestClient) => firstValueFrom(c.engine.getStatus());

describe("against the reference server", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({
      args: [
        "--conflict-strategy",
        "srv_lww=last-write-wins,srv_sw=server-wins,srv_cw=client-wins,srv_merge=merge",
        "--heartbeat-ms",
        "1000",
      ],
    });
  });
  afterAll(() => server.stop());

  it("inserts, updates and deletes reach every client (stream, polling, gRPC-Web, gRPC) and live queries follow", async () => {
    const a = await client("a", server, { collections: ["todos"] });
    const b = await client("b", server, { collections: ["todos"], useWebSocket: false, pullInterval: 50 });
    const c = await client("c", server, { collections: ["todos"], transport: "grpc-web" });
    for (const x of [a, b, c]) await x.engine.start();
    const live: string[][] = [];
    const sub = c.col("todos").find({ done: false }, { sort: { field: "title" } }).$.subscribe((docs) => live.push(docs.map((d) => String(d.title))));

    await a.col("todos").insert({ _id: "t1", title: "milk", done: false });
    await b.col("todos").insert({ _id: "t2", title: "eggs", done: false });
    await waitConverged(server.url, [a, b, c], "todos");
    await c.col("todos").update("t1", { done: true });
    await a.col("todos").update("t2", { title: "bread" });
    await b.col("todos").insert({ _id: "t3", title: "tea", done: false });
    await waitConverged(server.url, [a, b, c], "todos");
    await b.col("todos").delete("t3");
    const final = await waitConverged(server.url, [a, b, c], "todos");
    expect(final).toEqual({ t1: { title: "milk", done: true }, t2: { title: "bread", done: false } });

    await waitFor(() => JSON.stringify(live.at(-1)) === JSON.stringify(["bread"]), "live query to settle");
    expect(live).toContainEqual(["eggs", "milk"]);
    sub.unsubscribe();

    // Revisions agree everywhere once synced.
    const revs = await Promise.all([a, b, c].map((x) => x.col("todos").get("t2")));
    expect(new Set(revs.map((d) => d?._rev)).size).toBe(1);
    expect(revs[0]?._rev).not.toMatch(/^local-/);

    // gRPC (HTTP/2) from the Node entry.
    const db = (await makeClient("g", { serverUrl: server.url, collections: ["todos"] })).db;
    const grpc = createNodeEngine(db, { serverUrl: server.url, collections: ["todos"], transport: "grpc", retryDelay: 20 });
    const g = { name: "g", db, engine: grpc, col: (n: string) => db.collection(n) };
    clients.push(g);
    await grpc.start();
    await g.col("todos").insert({ _id: "t4", title: "jam", done: false });
    await waitConverged(server.url, [a, b, c, g], "todos");
  });

  it("runs the seed's example code", async () => {
    const db = await createDatabase({ name: "seed", storage: "memory" });
    const todos = db.collection("todos");
    const sync = createSyncEngine(db, {
      serverUrl: server.url,
      authToken: "user-token",
      collections: ["todos", "notes"], // Which collections to sync
      direction: "both", // 'push' | 'pull' | 'both'
      useWebSocket: true, // Real-time updates
      pullInterval: 30000, // Poll every 30s (fallback)
      conflictStrategy: "last-write-wins",
      autoRetry: true,
      retryDelay: 1000,
      maxRetryAttempts: 5,
    });
    const statuses: string[] = [];
    sync.getStatus().subscribe((status) => statuses.push(status));
    let pushed = 0;
    sync.getStats().subscribe((stats) => (pushed = stats.pushCount));
    await sync.start();
    await todos.insert({ _id: "1", title: "New todo", completed: false }); // returns at once
    await sync.forceSync();
    expect(pushed).toBe(1);
    expect(statuses).toContain("syncing");
    expect((await serverSnapshot(server.url, "todos"))["1"]).toEqual({ title: "New todo", completed: false });
    await todos.delete("1");
    await sync.forceSync();
    await sync.stop();
    sync.destroy();
    await db.close();
  });

  const clientStrategies: ConflictStrategy[] = ["last-write-wins", "server-wins", "client-wins", "merge", "custom"];
  for (const strategy of clientStrategies) {
    it(`offline edits on both sides converge (server reports, client resolves with ${strategy})`, async () => {
      const col = `cli_${strategy.replace(/-/g, "_")}`;
      await convergeAfterOffline(col, {
        conflictStrategy: strategy,
        ...(strategy === "custom" ? { conflictResolver: (c) => ({ ...c.remoteDocument, ...c.localDocument }) } : {}),
      });
    });
  }
  for (const col of ["srv_lww", "srv_sw", "srv_cw", "srv_merge"]) {
    it(`offline edits on both sides converge (server resolves: ${col})`, async () => {
      await convergeAfterOffline(col, {});
    });
  }

  async function convergeAfterOffline(col: string, config: { conflictStrategy?: ConflictStrategy; conflictResolver?: Parameters<typeof makeClient>[1]["conflictResolver"] }) {
    const a = await client("a", server, { collections: [col], ...config });
    const b = await client("b", server, { collections: [col], ...config });
    await a.engine.start();
    await b.engine.start();
    await a.col(col).insert({ _id: "shared", title: "base", a: 0, b: 0 });
    await a.col(col).insert({ _id: "gone", v: 1 });
    await waitConverged(server.url, [a, b], col);
    await a.engine.stop();
    await b.engine.stop();
    // Offline on both sides: concurrent edits of the same document, a delete against an edit, fresh inserts.
    await a.col(col).update("shared", { title: "from a", a: 1 });
    await b.col(col).update("shared", { title: "from b", b: 1 });
    await a.col(col).delete("gone");
    await b.col(col).update("gone", { v: 2 });
    await a.col(col).insert({ _id: "only-a", v: 1 });
    await b.col(col).insert({ _id: "only-b", v: 1 });
    await a.engine.start();
    await waitFor(async () => (await a.db.syncStore.pendingCount([col])) === 0, "a pushed");
    await b.engine.start();
    const final = await waitConverged(server.url, [a, b], col);
    expect(final["only-a"]).toEqual({ v: 1 });
    expect(final["only-b"]).toEqual({ v: 1 });
    expect(["from a", "from b"]).toContain(final.shared?.title);
    // Both merges are three-way (the client knows its base document; the server
    // keeps superseded states of merge collections): each side's own field survives.
    if (col === "cli_merge" || col === "srv_merge") expect(final.shared).toMatchObject({ a: 1, b: 1 });
    expect((await firstValueFrom(b.engine.getStats())).conflictCount).toBeGreaterThan(0);
  }

  it("a retried push (response lost) is not applied twice", async () => {
    let drop = 1;
    let lostRevision = "";
    const real = createConnectTransport({ baseUrl: server.url });
    const lossy: Transport = {
      stream: (...args) => real.stream(...args),
      async unary(method, ...rest) {
        const response = await real.unary(method, ...rest);
        if (method.name === "Push" && drop > 0) {
          drop--;
          const message = response.message as unknown as { results: { outcome: { case: string; value: { revision?: string } } }[] };
          lostRevision = message.results[0]!.outcome.value.revision ?? "";
          throw new ConnectError("response lost", Code.Unavailable);
        }
        return response;
      },
    };
    const a = await client("a", server, { collections: ["retry"], transport: lossy });
    const b = await client("b", server, { collections: ["retry"] });
    await a.engine.start();
    await b.engine.start();
    await a.col("retry").insert({ _id: "once", n: 1 });
    await waitConverged(server.url, [a, b], "retry");
    expect(drop).toBe(0);
    expect(lostRevision).not.toBe("");
    // The retry got the recorded result: the same revision, so nothing was applied again.
    expect((await a.col("retry").get("once"))?._rev).toBe(lostRevision);
    expect((await b.col("retry").get("once"))?._rev).toBe(lostRevision);
  });
});

describe("server crash and restart", () => {
  it("loses no acknowledged change when the server is killed (-9) mid-sync and restarted", async () => {
    const server = await startServer();
    try {
      const a = await client("a", server, { collections: ["crash"], batchSize: 5 });
      const b = await client("b", server, { collections: ["crash"] });
      await a.engine.start();
      await b.engine.start();
      const writes = (async () => {
        for (let i = 0; i < 60; i++) await a.col("crash").insert({ _id: `d${i}`, i });
      })();
      await waitFor(async () => (await a.col("crash").find()).some((d) => !d._rev.startsWith("local-")), "some acknowledged");
      await server.kill();
      // Acknowledged = the client holds the server's revision for it.
      const acknowledged = (await a.col("crash").find()).filter((d) => !d._rev.startsWith("local-")).map((d) => d._id);
      expect(acknowledged.length).toBeGreaterThan(0);
      await writes;
      await waitFor(async () => (await statusOf(a)) === "offline" || (await statusOf(a)) === "error", "a notices");
      await server.start();
      const final = await waitConverged(server.url, [a, b], "crash", 30_000);
      for (const id of acknowledged) expect(final[id]).toBeDefined();
      expect(Object.keys(final)).toHaveLength(60);
      await waitFor(async () => (await statusOf(a)) === "idle", "a idle again");
    } finally {
      await server.stop();
    }
  }, 60_000);
});

describe("tombstone retention", () => {
  it("a client whose checkpoint is older than the retention resyncs by itself", async () => {
    const server = await startServer({ args: ["--tombstone-retention-ms", "1", "--purge-interval-ms", "50"] });
    try {
      const a = await client("a", server, { collections: ["notes"] });
      const b = await client("b", server, { collections: ["notes"] });
      await a.engine.start();
      await b.engine.start();
      await a.col("notes").insert({ _id: "old", v: 1 });
      await a.col("notes").insert({ _id: "stays", v: 1 });
      await waitConverged(server.url, [a, b], "notes");
      await b.engine.stop();
      await a.col("notes").delete("old");
      await waitFor(async () => (await a.db.syncStore.pendingCount(["notes"])) === 0, "delete pushed");
      // Wait until the tombstone is purged: a full pull no longer returns it.
      const { createClient } = await import("@connectrpc/connect");
      const { SyncService } = await import("../../gen/ts/pocket/sync/v1/sync_pb.js");
      const raw = createClient(SyncService, createConnectTransport({ baseUrl: server.url }));
      await waitFor(async () => !(await raw.pull({ collections: ["notes"] })).changes.some((c) => c.documentId === "old"), "purge");
      await a.col("notes").insert({ _id: "new", v: 2 });
      await b.col("notes").insert({ _id: "b-offline", v: 3 }); // pending local change survives the resync
      await b.engine.start();
      const final = await waitConverged(server.url, [a, b], "notes");
      expect(final).toEqual({ stays: { v: 1 }, new: { v: 2 }, "b-offline": { v: 3 } });
    } finally {
      await server.stop();
    }
  });
});

describe("auth", () => {
  it("setAuthToken keeps syncing; a revoked token turns the status to 'error'", async () => {
    const { server, tokenFile, dir } = await startServerWithTokens();
    try {
      const a = await client("a", server, { collections: ["todos"], authToken: "token-a1" });
      const b = await client("b", server, { collections: ["todos"], authToken: "token-b" });
      await a.engine.start();
      await b.engine.start();
      await a.col("todos").insert({ _id: "x", v: 1 });
      await waitConverged(server.url, [a, b], "todos", 20_000, "token-b");

      a.engine.setAuthToken("token-a2");
      writeFileSync(tokenFile, "token-a2 alice\ntoken-b bob\n"); // token-a1 revoked
      await b.col("todos").insert({ _id: "y", v: 2 }); // reaches a over its re-opened stream
      await a.col("todos").insert({ _id: "z", v: 3 }); // pushed with the new token
      await waitConverged(server.url, [a, b], "todos", 20_000, "token-b");

      writeFileSync(tokenFile, "token-a2 alice\n"); // token-b revoked
      await waitFor(async () => !(await serverAccepts(server, "token-b")), "the server to load the edited token file");
      await b.col("todos").update("y", { v: 4 });
      await firstValueFrom(b.engine.getStatus().pipe(filter((s: SyncStatus) => s === "error")));
      expect(await b.db.syncStore.pendingCount(["todos"])).toBe(1); // nothing dropped

      // A new token brings it back.
      writeFileSync(tokenFile, "token-a2 alice\ntoken-b2 bob\n");
      await waitFor(() => serverAccepts(server, "token-b2"), "the server to load the edited token file");
      b.engine.setAuthToken("token-b2");
      await waitConverged(server.url, [a, b], "todos", 20_000, "token-b2");
      expect((await a.col("todos").get("y")) as Doc | null).toMatchObject({ v: 4 });
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Whether the server takes `token` now: it loads an edited token file within moments, not at once. */
async function serverAccepts(server: ServerProcess, token: string): Promise<boolean> {
  const { createClient } = await import("@connectrpc/connect");
  const { SyncService } = await import("../../gen/ts/pocket/sync/v1/sync_pb.js");
  const raw = createClient(SyncService, createConnectTransport({ baseUrl: server.url }));
  try {
    await raw.pull({ collections: ["todos"], limit: 1 }, { headers: { authorization: `Bearer ${token}` } });
    return true;
  } catch (error) {
    if (ConnectError.from(error).code !== Code.Unauthenticated) throw error;
    return false;
  }
}

async function startServerWithTokens() {
  const dir = mkdtempSync(join(tmpdir(), "pocket-tokens-"));
  const tokenFile = join(dir, "tokens");
  writeFileSync(tokenFile, "token-a1 alice\ntoken-a2 alice\ntoken-b bob\n");
  const server = await startServer({ args: ["--token-file", tokenFile] });
  return { server, tokenFile, dir };
}
