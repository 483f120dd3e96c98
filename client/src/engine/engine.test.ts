// The engine against a tiny in-test fake of SyncService (router transport, no
// network): backoff, coalescing, retries and conflict handling.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { firstValueFrom, filter } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorReason } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { ChangeEventSchema, Operation } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { syncError } from "../../../common/src/index.js";
import { createDatabase, type Database } from "../db/database.js";
import { fakeServer } from "../test-support/fake-sync-service.js";
import { waitFor } from "../test-support/server-process.js";
import { backoffDelay, classifyError } from "./backoff.js";
import { createSyncEngine, type SyncEngine, type SyncEngineConfig, type SyncError } from "./engine.js";

const dbs: Database[] = [];
const engines: SyncEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
  await Promise.all(dbs.splice(0).map((d) => d.close()));
});

async function setup(config: Partial<SyncEngineConfig> = {}) {
  const { fake, transport } = fakeServer();
  const db = await createDatabase({ name: "t", storage: "memory" });
  dbs.push(db);
  const engine = createSyncEngine(db, {
    serverUrl: "http://fake",
    collections: ["todos"],
    transport,
    useWebSocket: false,
    pullInterval: 60_000,
    retryDelay: 5,
    random: () => 0.5,
    ...config,
  });
  engines.push(engine);
  const errors: SyncError[] = [];
  engine.errors$.subscribe((e) => errors.push(e));
  return { fake, db, engine, todos: db.collection("todos"), errors };
}

const remoteDoc = (id: string, document: object, clientId = "other") =>
  create(ChangeEventSchema, {
    operation: Operation.UPDATE,
    collection: "todos",
    documentId: id,
    document: JSON.stringify(document),
    clientId,
    clientSequence: 1n,
    timestamp: { wallTimeMs: 1n, logical: 0 },
  });

describe("backoff", () => {
  it("doubles from the base, caps, and jitters within the upper half", () => {
    expect(backoffDelay(1, 100, 10_000, () => 0)).toBe(50);
    expect(backoffDelay(1, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(4, 100, 10_000, () => 1)).toBe(800);
    expect(backoffDelay(30, 100, 10_000, () => 1)).toBe(10_000);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(3, 100, 10_000);
      expect(d).toBeGreaterThanOrEqual(200);
      expect(d).toBeLessThanOrEqual(400);
    }
  });

  it("retries network and availability errors, not auth or bad input, and resyncs on request", () => {
    expect(classifyError(new ConnectError("x", Code.Unavailable))).toBe("retry");
    expect(classifyError(new TypeError("fetch failed"))).toBe("retry");
    expect(classifyError(new ConnectError("x", Code.ResourceExhausted))).toBe("retry");
    expect(classifyError(syncError(Code.ResourceExhausted, ErrorReason.TOO_LARGE, "big"))).toBe("fatal");
    expect(classifyError(syncError(Code.Unauthenticated, ErrorReason.UNAUTHENTICATED, "who"))).toBe("fatal");
    expect(classifyError(new ConnectError("x", Code.InvalidArgument))).toBe("fatal");
    expect(classifyError(syncError(Code.FailedPrecondition, ErrorReason.RESYNC_REQUIRED, "old", { metadata: { collections: "todos" } }))).toBe("resync");
  });
});

describe("sync engine (fake server)", () => {
  it("pushes one change per document with its latest state and last client sequence, in order, in batches", async () => {
    const { fake, engine, todos, db } = await setup({ batchSize: 2 });
    await todos.insert({ _id: "a", v: 1 });
    await todos.insert({ _id: "b", v: 1 });
    await todos.update("a", { v: 2 });
    await todos.insert({ _id: "c", v: 1 });
    await todos.delete("b");
    await engine.forceSync();
    const pushed = fake.pushes.map((p) => p.changes.map((c) => [c.documentId, c.operation, c.document, c.clientSequence]));
    expect(pushed).toEqual([
      [
        ["a", Operation.INSERT, '{"v":2}', 3n],
        ["c", Operation.INSERT, '{"v":1}', 4n],
      ],
      [["b", Operation.DELETE, "", 5n]],
    ]);
    expect(fake.pushes.every((p) => p.clientId === db.clientId)).toBe(true);
    expect(await db.syncStore.pendingCount(["todos"])).toBe(0);
    // Later edits are updates on the server's revision.
    await todos.update("a", { v: 3 });
    await engine.forceSync();
    const last = fake.pushes.at(-1)!.changes[0]!;
    expect([last.operation, last.baseRevision]).toEqual([Operation.UPDATE, "1-r"]);
    const stats = await firstValueFrom(engine.getStats());
    expect(stats.pushCount).toBe(4);
    expect(stats.lastSyncAt).not.toBeNull();
  });

  it("retries a failed push with the same client sequence, with backoff, and goes back to idle", async () => {
    const { fake, engine, todos, db } = await setup({ maxRetryAttempts: 10 });
    fake.failPushes = 3;
    const statuses: string[] = [];
    engine.getStatus().subscribe((s) => statuses.push(s));
    await engine.start();
    await todos.insert({ _id: "a", v: 1 });
    await waitFor(async () => (await db.syncStore.pendingCount(["todos"])) === 0, "push to succeed");
    const sequences = fake.pushes.map((p) => p.changes.map((c) => c.clientSequence));
    expect(sequences).toEqual([[1n], [1n], [1n], [1n]]);
    expect(statuses).toContain("offline");
    await waitFor(() => statuses.at(-1) === "idle", "idle");
  });

  it("after maxRetryAttempts reports 'error' but drops nothing; forceSync carries on", async () => {
    const { fake, engine, todos, db, errors } = await setup({ maxRetryAttempts: 3 });
    fake.failPushes = 1000;
    await engine.start();
    await todos.insert({ _id: "a", v: 1 });
    await firstValueFrom(engine.getStatus().pipe(filter((s) => s === "error")));
    expect(fake.pushes).toHaveLength(3);
    expect(errors.every((e) => e.kind === "push")).toBe(true);
    expect(await db.syncStore.pendingCount(["todos"])).toBe(1);
    fake.failPushes = 0;
    await engine.forceSync();
    expect(await db.syncStore.pendingCount(["todos"])).toBe(0);
    expect(fake.pushes.at(-1)!.changes[0]!.clientSequence).toBe(1n);
    await waitFor(async () => (await firstValueFrom(engine.getStatus())) === "idle", "idle");
  });

  it("strips reserved keys before pushing (§3.3)", async () => {
    const { fake, engine, todos } = await setup();
    await todos.insert({ _id: "a", _rev: "x", _deleted: false, title: "t" } as never);
    await engine.forceSync();
    expect(JSON.parse(fake.pushes[0]!.changes[0]!.document)).toEqual({ title: "t" });
  });

  for (const [strategy, expected] of [
    ["server-wins", { title: "server", n: 1 }],
    ["client-wins", { title: "client", n: 0 }],
    ["last-write-wins", { title: "client", n: 0 }],
    ["merge", { title: "client", n: 1 }],
  ] as const) {
    it(`settles a reported conflict with ${strategy} and re-pushes on the server's revision`, async () => {
      const { fake, engine, todos, db } = await setup({ conflictStrategy: strategy });
      const base = fake.commit(remoteDoc("a", { title: "base", n: 0 }));
      await engine.forceSync(); // pulls the base
      await todos.update("a", { title: "client" });
      const current = fake.commit(remoteDoc("a", { title: "server", n: 1 })); // another client, earlier HLC
      let conflicts = 0;
      fake.onPush = (change) => {
        if (change.baseRevision !== base.revision) return undefined;
        conflicts++;
        return { clientSequence: change.clientSequence, outcome: { case: "conflict", value: { current } } };
      };
      await engine.forceSync();
      expect(conflicts).toBe(1);
      expect(await todos.get("a")).toMatchObject(expected);
      expect(await db.syncStore.pendingCount(["todos"])).toBe(0);
      const server = JSON.parse(fake.docs.get("todos/a")!.document);
      expect(server).toEqual(expected);
      if (strategy !== "server-wins") {
        const repush = fake.pushes.at(-1)!.changes[0]!;
        expect(repush.baseRevision).toBe(current.revision);
        expect(repush.clientSequence).toBeGreaterThan(fake.pushes.at(-2)!.changes[0]!.clientSequence);
      }
      expect((await firstValueFrom(engine.getStats())).conflictCount).toBe(1);
    });
  }

  it("asks a custom resolver (seed style: returns the document)", async () => {
    const { fake, engine, todos } = await setup({
      conflictStrategy: "custom",
      conflictResolver: (c) => ({ ...c.remoteDocument, ...c.localDocument, _rev: c.remoteDocument?._rev ?? "" }),
    });
    const base = fake.commit(remoteDoc("a", { a: 0, b: 0 }));
    await engine.forceSync();
    await todos.update("a", { a: 1 });
    const current = fake.commit(remoteDoc("a", { a: 0, b: 2, c: 3 }));
    fake.onPush = (change) =>
      change.baseRevision === base.revision ? { clientSequence: change.clientSequence, outcome: { case: "conflict", value: { current } } } : undefined;
    await engine.forceSync();
    // The seed's example resolver: remote fields, overwritten by every local field.
    expect(JSON.parse(fake.docs.get("todos/a")!.document)).toEqual({ a: 1, b: 0, c: 3 });
  });

  it("adopts a Resolved outcome without pushing it back", async () => {
    const { fake, engine, todos, db } = await setup();
    await todos.insert({ _id: "a", v: "mine" });
    const current = fake.commit(remoteDoc("a", { v: "theirs" }));
    fake.onPush = (change) => ({ clientSequence: change.clientSequence, outcome: { case: "resolved", value: { current, strategy: "server-wins" } } });
    await engine.forceSync();
    expect(fake.pushes).toHaveLength(1);
    expect(await todos.get("a")).toMatchObject({ v: "theirs", _rev: current.revision });
    expect(await db.syncStore.pendingCount(["todos"])).toBe(0);
  });

  it("drops a rejected change, reports it and keeps going with the rest", async () => {
    const { fake, engine, todos, errors } = await setup();
    fake.onPush = (change) =>
      change.documentId === "bad"
        ? { clientSequence: change.clientSequence, outcome: { case: "rejected", value: { code: Code.PermissionDenied, reason: "ERROR_REASON_PERMISSION_DENIED", message: "no" } } }
        : undefined;
    await todos.insert({ _id: "bad", v: 1 });
    await todos.insert({ _id: "good", v: 1 });
    await engine.forceSync();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ kind: "rejected", documentId: "bad" });
    expect(errors[0]!.error.code).toBe(Code.PermissionDenied);
    expect(await todos.get("bad")).toBeNull();
    expect(fake.docs.has("todos/good")).toBe(true);
  });

  it("resyncs when the checkpoint is too old: pulls from the beginning, drops what the server no longer has", async () => {
    const { fake, engine, todos } = await setup({ direction: "pull" }); // "local" stays pending
    fake.commit(remoteDoc("keep", { v: 1 }));
    fake.commit(remoteDoc("purged", { v: 1 }));
    await engine.forceSync();
    expect(await todos.find()).toHaveLength(2);
    fake.docs.delete("todos/purged"); // its tombstone was purged
    await todos.insert({ _id: "local", v: 1 });
    fake.failPullWith = syncError(Code.FailedPrecondition, ErrorReason.RESYNC_REQUIRED, "too old", { metadata: { collections: "todos" } });
    await engine.forceSync();
    expect(fake.pulls.at(-1)!.checkpoint?.serverSequence ?? 0n).toBe(0n);
    expect((await todos.find()).map((d) => d._id).sort()).toEqual(["keep", "local"]);
  });

  it("stops on a whole push refused with permission_denied (a client id of another principal): error status, nothing dropped, no retry loop", async () => {
    const { fake, engine, todos, db, errors } = await setup({ maxRetryAttempts: 10 });
    fake.failPushWith = syncError(Code.PermissionDenied, ErrorReason.PERMISSION_DENIED, 'client_id "x" belongs to another principal');
    await engine.start();
    await todos.insert({ _id: "a", v: 1 });
    await firstValueFrom(engine.getStatus().pipe(filter((s) => s === "error")));
    await new Promise((r) => setTimeout(r, 200)); // retries would come every few ms (retryDelay 5)
    expect(fake.pushes).toHaveLength(1);
    expect(errors.map((e) => [e.kind, e.error.code])).toEqual([["push", Code.PermissionDenied]]);
    expect(await db.syncStore.pendingCount(["todos"])).toBe(1);
    // A later trigger tries once more, not in a loop.
    await todos.insert({ _id: "b", v: 1 });
    await waitFor(() => fake.pushes.length === 2, "the next write's push");
    await new Promise((r) => setTimeout(r, 200));
    expect(fake.pushes).toHaveLength(2);
    await expect(engine.forceSync()).rejects.toMatchObject({ code: Code.PermissionDenied });
  });

  it("does not spin when the server answers none of the pushed changes", async () => {
    const { fake, engine, todos } = await setup();
    fake.onPush = (change) => ({ clientSequence: change.clientSequence + 1000n, outcome: { case: "accepted", value: { revision: "x", serverSequence: 1n } } });
    await todos.insert({ _id: "a", v: 1 });
    await expect(engine.forceSync()).rejects.toThrow(/no result/);
  });

  it("never pushes with direction 'pull', also when the live stream catches up (which wakes pushes)", async () => {
    const { fake, engine, todos, db } = await setup({ direction: "pull", useWebSocket: true });
    await todos.insert({ _id: "local", v: 1 });
    await engine.start();
    await firstValueFrom(engine.getStatus().pipe(filter((s) => s === "idle")));
    await engine.forceSync();
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.pushes).toHaveLength(0);
    expect(await db.syncStore.pendingCount(["todos"])).toBe(1);
  });

  it("pulls in polling mode and applies without pushing back (echo suppression)", async () => {
    const { fake, engine, todos, db } = await setup({ pullInterval: 20 });
    await engine.start();
    fake.commit(remoteDoc("r", { v: 1 }));
    await waitFor(async () => (await todos.get("r")) !== null, "pulled");
    expect(await db.syncStore.pendingCount(["todos"])).toBe(0);
    expect(fake.pushes).toHaveLength(0);
    expect((await firstValueFrom(engine.getStats())).pullCount).toBeGreaterThanOrEqual(1);
  });
});

describe("stopping", () => {
  it("does not wait out the poll interval when stop() comes while a pull is in flight", async () => {
    const { fake, engine } = await setup({ pullInterval: 60_000 });
    fake.pullDelayMs = 200;
    await engine.start();
    while (fake.pulls.length === 0) await new Promise((r) => setTimeout(r, 5));
    // Were stop() to wait for the next poll, this would outlast the test timeout.
    await engine.stop();
    expect(fake.pulls.length).toBe(1);
  }, 5_000);
});

describe("a batch too large for the server", () => {
  it("is split in halves until the server takes it, and nothing is lost", async () => {
    const { fake, engine, todos } = await setup({ batchSize: 8 });
    fake.maxPushChanges = 3;
    for (let i = 0; i < 8; i++) await todos.insert({ _id: `d${i}`, n: i });
    await engine.forceSync();
    expect(fake.docs.size).toBe(8);
    expect(fake.pushes.map((p) => p.changes.length)).toEqual([8, 4, 2, 2, 2, 2]);
  });
});
