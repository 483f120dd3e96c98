import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { firstValueFrom, filter, take, toArray } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import { createDatabase, type Database } from "./database.js";
import type { LevelLike } from "./storage.js";
import type { ChangeEvent } from "./types.js";
import { memoryStorage } from "../test-support/memory-storage.js";

const open: Database[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((db) => db.close()));
});

async function memoryDb(options: { sync?: boolean } = {}) {
  const db = await createDatabase({ name: "test", storage: "memory", ...options });
  open.push(db);
  return db;
}

const remote = (id: string, revision: string, seq: bigint, document: Record<string, unknown> | null, collection = "todos") => ({
  collection,
  documentId: id,
  document: document as never,
  revision,
  serverSequence: seq,
  timestamp: { wallTimeMs: 1000n, logical: 0 },
  clientId: "other",
});

describe("local database", () => {
  it("inserts, updates partially, gets and finds with filters, sort and limit", async () => {
    const db = await memoryDb();
    const todos = db.collection<{ title: string; done: boolean; rank?: number }>("todos");
    const a = await todos.insert({ _id: "a", title: "A", done: false, rank: 2 });
    expect(a).toMatchObject({ _id: "a", title: "A", done: false });
    expect(a._rev).toMatch(/^local-/);
    await todos.insert({ _id: "b", title: "B", done: true, rank: 1 });
    const c = await todos.insert({ title: "C", done: false, rank: 3 });
    expect(c._id).toMatch(/^[0-9a-f]{24}$/);
    await expect(todos.insert({ _id: "a", title: "dup", done: false })).rejects.toThrow(/already exists/);

    const updated = await todos.update("a", { done: true });
    expect(updated).toMatchObject({ _id: "a", title: "A", done: true, rank: 2 });
    expect(await todos.update("missing", { done: true })).toBeNull();
    await todos.update("a", { rank: undefined });
    expect(await todos.get("a")).not.toHaveProperty("rank");

    expect((await todos.find({ done: true })).map((d) => d._id).sort()).toEqual(["a", "b"]);
    expect((await todos.find({}, { sort: { field: "rank", direction: "desc" } })).map((d) => d.title)).toEqual(["C", "B", "A"]);
    expect((await todos.find({ done: false }, { limit: 1 }).exec()).map((d) => d.title)).toEqual(["C"]);
    expect(await todos.find({ _id: "b" })).toHaveLength(1);
  });

  it("refuses ids and collection names the protocol would refuse, and strips reserved keys", async () => {
    const db = await memoryDb();
    expect(() => db.collection("1bad")).toThrow(/collection name/);
    const todos = db.collection("todos");
    await expect(todos.insert({ _id: "has space", x: 1 })).rejects.toThrow(/document id/);
    const doc = await todos.insert({ _id: "x", _rev: "9-zz", _deleted: true, y: 1 } as never);
    expect(doc).toMatchObject({ _id: "x", y: 1 });
    const [pending] = await db.syncStore.pendingChanges(["todos"], 10);
    expect(pending?.document).toEqual({ y: 1 });
  });

  it("writes a document and its outbox entry together, coalescing writes to one entry per document", async () => {
    const db = await memoryDb();
    const todos = db.collection("todos");
    await todos.insert({ _id: "a", n: 1 });
    await todos.insert({ _id: "b", n: 1 });
    await todos.update("a", { n: 2 });
    await todos.update("a", { n: 3 });
    const pending = await db.syncStore.pendingChanges(["todos"], 10);
    expect(pending.map((p) => [p.documentId, p.document, p.clientSequence])).toEqual([
      ["b", { n: 1 }, 2n],
      ["a", { n: 3 }, 4n],
    ]);
    expect(pending[1]!.baseRevision).toBe("");
    expect(await db.syncStore.pendingChanges(["notes"], 10)).toEqual([]);
    expect(await db.syncStore.pendingChanges(["todos"], 1)).toHaveLength(1);
  });

  it("persists documents, outbox, client id, sequences and checkpoint across reopen (LevelDB)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pocket-db-"));
    try {
      const db1 = await createDatabase({ name: join(dir, "db"), storage: "level" });
      await db1.collection("todos").insert({ _id: "a", n: 1 });
      await db1.syncStore.applyRemoteChanges([remote("r", "1-x", 5n, { v: 1 })], new Uint8Array([1, 2, 3]));
      const id = db1.clientId;
      await db1.close();
      const db2 = await createDatabase({ name: join(dir, "db"), storage: "level" });
      expect(db2.clientId).toBe(id);
      expect(await db2.collection("todos").get("a")).toMatchObject({ n: 1 });
      expect(await db2.collection("todos").get("r")).toMatchObject({ v: 1, _rev: "1-x" });
      expect(await db2.syncStore.getCheckpoint()).toEqual(new Uint8Array([1, 2, 3]));
      await db2.collection("todos").update("a", { n: 2 });
      const [p] = await db2.syncStore.pendingChanges(["todos"], 10);
      expect(p?.clientSequence).toBe(2n);
      await db2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("loses no write when the batch fails: document and outbox are all or nothing", async () => {
    const inner = (await import("memory-level")).MemoryLevel;
    const level = new inner<string, string>() as unknown as LevelLike;
    let failNext = false;
    const flaky: LevelLike = {
      open: () => level.open(),
      close: () => level.close(),
      get: (k) => level.get(k),
      put: (k, v) => level.put(k, v),
      iterator: (o) => level.iterator(o),
      batch: (ops) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error("disk full"));
        }
        return level.batch(ops);
      },
    };
    const db = await createDatabase({ name: "flaky", storage: flaky });
    open.push(db);
    const todos = db.collection("todos");
    failNext = true;
    await expect(todos.insert({ _id: "a", n: 1 })).rejects.toThrow("disk full");
    expect(await todos.get("a")).toBeNull();
    expect(await db.syncStore.pendingChanges(["todos"], 10)).toEqual([]);
    await todos.insert({ _id: "a", n: 1 });
    expect(await db.syncStore.pendingChanges(["todos"], 10)).toHaveLength(1);
  });

  it("emits change events for local and remote changes", async () => {
    const db = await memoryDb();
    const todos = db.collection("todos");
    const events: ChangeEvent[] = [];
    const sub = todos.changes().subscribe((e) => events.push(e));
    await todos.insert({ _id: "a", n: 1 });
    await todos.update("a", { n: 2 });
    await todos.delete("a");
    await db.syncStore.applyRemoteChanges([remote("b", "1-b", 1n, { n: 9 })], undefined);
    await db.syncStore.applyRemoteChanges([remote("b", "2-b", 2n, null)], undefined);
    await db.collection("notes").insert({ _id: "n", x: 1 });
    sub.unsubscribe();
    expect(events.map((e) => [e.operation, e.documentId, e.isFromSync])).toEqual([
      ["insert", "a", false],
      ["update", "a", false],
      ["delete", "a", false],
      ["insert", "b", true],
      ["delete", "b", true],
    ]);
    expect(events[1]).toMatchObject({ document: { n: 2 }, previousDocument: { n: 1 } });
    expect(events[2]!.document).toMatchObject({ _id: "a", _deleted: true });
    const seqs = events.map((e) => e.sequence);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it("soft-deletes with sync on (tombstone pending) and hard-deletes with sync off", async () => {
    const db = await memoryDb();
    const todos = db.collection("todos");
    await todos.insert({ _id: "a", n: 1 });
    expect(await todos.delete("a")).toBe(true);
    expect(await todos.delete("a")).toBe(false);
    expect(await todos.get("a")).toBeNull();
    expect(await todos.find()).toEqual([]);
    const [p] = await db.syncStore.pendingChanges(["todos"], 10);
    expect(p).toMatchObject({ documentId: "a", document: null });
    // A tombstone can be written over by a new insert.
    await todos.insert({ _id: "a", n: 2 });
    expect(await todos.get("a")).toMatchObject({ n: 2 });

    const plain = await memoryDb({ sync: false });
    const notes = plain.collection("notes");
    await notes.insert({ _id: "x", v: 1 });
    await notes.delete("x");
    expect(await notes.get("x")).toBeNull();
    expect(await plain.syncStore.pendingChanges(["notes"], 10)).toEqual([]);
  });

  it("live queries emit at once and again only when their results change", async () => {
    const db = await memoryDb();
    const todos = db.collection<{ title: string; done: boolean }>("todos");
    await todos.insert({ _id: "a", title: "A", done: false });
    const results: string[][] = [];
    const sub = todos.find({ done: false }).$.subscribe((docs) => results.push(docs.map((d) => d._id)));
    const waitFor = (ids: string[]) =>
      firstValueFrom(todos.observe({ done: false }).pipe(filter((docs) => JSON.stringify(docs.map((d) => d._id)) === JSON.stringify(ids))));
    await waitFor(["a"]);
    await todos.insert({ _id: "b", title: "B", done: false });
    await waitFor(["a", "b"]);
    await todos.insert({ _id: "c", title: "C", done: true }); // not in the results
    await todos.update("a", { done: true });
    await waitFor(["b"]);
    await db.syncStore.applyRemoteChanges([remote("d", "1-d", 1n, { title: "D", done: false })], undefined);
    await waitFor(["b", "d"]);
    sub.unsubscribe();
    expect(results).toEqual([["a"], ["a", "b"], ["b"], ["b", "d"]]);
  });

  it("keeps local state and base revision when a remote change reaches a pending document (§9.5)", async () => {
    const db = await memoryDb();
    const todos = db.collection("todos");
    const store = db.syncStore;
    await store.applyRemoteChanges([remote("a", "1-a", 1n, { v: "server1" })], undefined);
    await todos.update("a", { v: "local" });
    await store.applyRemoteChanges([remote("a", "2-a", 2n, { v: "server2" })], new Uint8Array([9]));
    expect(await todos.get("a")).toMatchObject({ v: "local" });
    const [p] = await store.pendingChanges(["todos"], 10);
    expect(p).toMatchObject({ baseRevision: "1-a", baseDocument: { v: "server1" }, document: { v: "local" } });
    expect(await store.getCheckpoint()).toEqual(new Uint8Array([9]));
    // An older or repeated change is a no-op.
    await store.applyRemoteChanges([remote("b", "1-b", 3n, { v: 1 })], undefined);
    await store.applyRemoteChanges([remote("b", "1-b", 3n, { v: 1 })], undefined);
    await store.applyRemoteChanges([remote("b", "0-b", 2n, { v: 0 })], undefined);
    expect(await todos.get("b")).toMatchObject({ v: 1, _rev: "1-b" });
    expect(await store.pendingCount(["todos"])).toBe(1);
  });

  it("acknowledges a push, keeping a newer local write pending and adopting a later server state", async () => {
    const db = await memoryDb();
    const todos = db.collection("todos");
    const store = db.syncStore;
    await todos.insert({ _id: "a", v: 1 });
    const [first] = await store.pendingChanges(["todos"], 10);
    await todos.update("a", { v: 2 }); // written while the push is in flight
    await store.acknowledge(first!, { revision: "1-a", serverSequence: 10n });
    const [second] = await store.pendingChanges(["todos"], 10);
    expect(second).toMatchObject({ document: { v: 2 }, baseRevision: "1-a", baseDocument: { v: 1 } });
    await store.acknowledge(second!, { revision: "2-a", serverSequence: 11n });
    expect(await store.pendingCount(["todos"])).toBe(0);
    expect(await todos.get("a")).toMatchObject({ v: 2, _rev: "2-a" });

    // Pending, another client's later change arrives, then our (earlier) change is acknowledged.
    await todos.update("a", { v: 3 });
    const [third] = await store.pendingChanges(["todos"], 10);
    await store.applyRemoteChanges([remote("a", "4-a", 13n, { v: "other" })], undefined);
    await store.acknowledge(third!, { revision: "3-a", serverSequence: 12n });
    expect(await todos.get("a")).toMatchObject({ v: "other", _rev: "4-a" });
  });

  it("rebases a conflict, adopts resolutions and reverts rejected changes", async () => {
    const db = await memoryDb();
    const todos = db.collection("todos");
    const store = db.syncStore;
    await store.applyRemoteChanges([remote("a", "1-a", 1n, { v: 1 })], undefined);
    await todos.update("a", { v: 2 });
    const [p] = await store.pendingChanges(["todos"], 10);
    const current = remote("a", "2-a", 2n, { v: 5, w: 1 });
    expect(await store.rebase(p!, current, { v: 2, w: 1 })).toBe(true);
    const [q] = await store.pendingChanges(["todos"], 10);
    expect(q!.clientSequence).toBeGreaterThan(p!.clientSequence);
    expect(q).toMatchObject({ baseRevision: "2-a", document: { v: 2, w: 1 } });
    expect(await store.rebase(p!, current, { v: 0 })).toBe(false); // stale
    await store.adoptServerState(q!, remote("a", "3-a", 3n, { v: 3 }));
    expect(await todos.get("a")).toMatchObject({ v: 3, _rev: "3-a" });
    expect(await store.pendingCount(["todos"])).toBe(0);

    await todos.update("a", { v: 4 });
    await todos.insert({ _id: "new", v: 1 });
    for (const change of await store.pendingChanges(["todos"], 10)) await store.reject(change);
    expect(await todos.get("a")).toMatchObject({ v: 3, _rev: "3-a" });
    expect(await todos.get("new")).toBeNull();
    expect(await store.pendingCount(["todos"])).toBe(0);
  });

  it("applyRemoteChange (seed API) stores, emits isFromSync and never adds to the outbox", async () => {
    const db = await memoryDb();
    const todos = db.collection("todos");
    const event = firstValueFrom(todos.changes());
    await todos.applyRemoteChange({ operation: "insert", documentId: "r", document: { t: 1 }, revision: "1-r", serverSequence: 1n });
    expect(await event).toMatchObject({ operation: "insert", isFromSync: true, document: { t: 1, _rev: "1-r" } });
    await todos.applyRemoteChange({ operation: "delete", documentId: "r", revision: "2-r", serverSequence: 2n });
    expect(await todos.get("r")).toBeNull();
    expect(await db.syncStore.pendingCount(["todos"])).toBe(0);
  });

  it("applies a removal by dropping the local copy without pushing anything; a pending change stays until the server refuses it", async () => {
    const db = await memoryDb();
    const todos = db.collection("todos");
    const store = db.syncStore;
    await store.applyRemoteChanges([remote("moved", "1-m", 1n, { v: 1 }), remote("edited", "1-e", 2n, { v: 1 })], undefined);
    await todos.update("edited", { v: 2 });
    const events = firstValueFrom(todos.changes().pipe(take(1), toArray()));
    const removal = (id: string, seq: bigint) => ({ ...remote(id, "", seq, null), removed: true });
    await store.applyRemoteChanges([removal("moved", 3n), removal("edited", 4n), removal("never-seen", 5n)], new Uint8Array([9]));
    expect(await todos.get("moved")).toBeNull();
    expect((await events)[0]).toMatchObject({ operation: "delete", documentId: "moved", isFromSync: true });
    // Nothing to push for the removed copy; the local edit is still pending, with no server state to fall back to.
    const pending = await store.pendingChanges(["todos"], 10);
    expect(pending.map((p) => p.documentId)).toEqual(["edited"]);
    expect(await todos.get("never-seen")).toBeNull();
    await store.reject(pending[0]!);
    expect(await todos.get("edited")).toBeNull();
    // A removal stands for the state of its own sequence: one the client knows from its own acknowledged write goes too.
    await store.applyRemoteChanges([remote("mine", "1-x", 8n, { v: 1 })], undefined);
    await store.applyRemoteChanges([removal("mine", 8n)], undefined);
    expect(await todos.get("mine")).toBeNull();
    // A removal older than the state held is stale and ignored.
    await store.applyRemoteChanges([remote("back", "1-b", 7n, { v: 1 })], undefined);
    await store.applyRemoteChanges([removal("back", 6n)], undefined);
    expect(await todos.get("back")).not.toBeNull();
  });

  it("finishes a resync by deleting documents the server no longer has, keeping pending ones", async () => {
    const db = await memoryDb();
    const todos = db.collection("todos");
    const store = db.syncStore;
    await store.applyRemoteChanges([remote("gone", "1-g", 1n, { v: 1 }), remote("kept", "1-k", 2n, { v: 1 })], undefined);
    await todos.insert({ _id: "mine", v: 1 });
    const events = firstValueFrom(todos.changes().pipe(take(1), toArray()));
    await store.finishResync(["todos"], new Map([["todos", new Set(["kept"])]]), new Uint8Array([7]));
    expect((await todos.find()).map((d) => d._id).sort()).toEqual(["kept", "mine"]);
    expect((await events)[0]).toMatchObject({ operation: "delete", documentId: "gone", isFromSync: true });
    expect(await store.getCheckpoint()).toEqual(new Uint8Array([7]));
  });

  it("finishes a resync of every collection (none named) across all local collections, pending ones kept", async () => {
    const db = await memoryDb();
    const store = db.syncStore;
    await store.applyRemoteChanges([remote("gone", "1-g", 1n, { v: 1 }), remote("kept", "1-k", 2n, { v: 1 }), remote("gone", "1-n", 3n, { v: 1 }, "notes")], undefined);
    await db.collection("a-b").insert({ _id: "mine/with/slashes", v: 1 });
    await store.applyRemoteChanges([remote("x/y", "1-x", 4n, { v: 1 }, "a-b")], undefined);
    expect((await store.pendingChanges([], 10)).map((c) => `${c.collection}/${c.documentId}`)).toEqual(["a-b/mine/with/slashes"]);
    await store.finishResync([], new Map([["todos", new Set(["kept"])]]), new Uint8Array([8]));
    expect((await db.collection("todos").find()).map((d) => d._id)).toEqual(["kept"]);
    expect(await db.collection("notes").find()).toEqual([]);
    expect((await db.collection("a-b").find()).map((d) => d._id)).toEqual(["mine/with/slashes"]);
  });
});

/** A database on a memory store that counts reads and writes, and fails the next write when told. */
async function flakyDb() {
  const fail = { next: false };
  const { storage, io } = memoryStorage({
    beforeBatch: () => {
      if (fail.next) {
        fail.next = false;
        throw new Error("disk full");
      }
    },
  });
  const db = await createDatabase({ name: "flaky", storage });
  open.push(db);
  return { db, io, fail };
}

describe("local database, batched sync writes", () => {
  it("acknowledges a whole push in one atomic write; if it fails, every change stays pending with its client sequence", async () => {
    const { db, io, fail } = await flakyDb();
    const todos = db.collection("todos");
    const store = db.syncStore;
    for (const id of ["a", "b", "c"]) await todos.insert({ _id: id, v: id });
    const pushed = await store.pendingChanges(["todos"], 10);
    const acks = pushed.map((change, n) => ({ change, accepted: { revision: `1-${change.documentId}`, serverSequence: BigInt(n + 1) } }));

    fail.next = true;
    await expect(store.acknowledgeAll!(acks)).rejects.toThrow("disk full");
    const still = await store.pendingChanges(["todos"], 10);
    expect(still.map((p) => [p.documentId, p.clientSequence])).toEqual(pushed.map((p) => [p.documentId, p.clientSequence]));
    expect(await todos.get("a")).toMatchObject({ _rev: expect.stringMatching(/^local-/) });

    const batches = io.batches;
    const reads = io.gets + io.getManys;
    await store.acknowledgeAll!(acks);
    expect(io.batches - batches).toBe(1);
    expect(io.gets + io.getManys - reads).toBe(1);
    expect(await store.pendingCount(["todos"])).toBe(0);
    expect((await todos.find()).map((d) => [d._id, d._rev])).toEqual([
      ["a", "1-a"],
      ["b", "1-b"],
      ["c", "1-c"],
    ]);
  });

  it("acknowledges several changes at once as one by one: a newer local write stays pending, a later server state wins", async () => {
    const { db } = await flakyDb();
    const todos = db.collection("todos");
    const store = db.syncStore;
    await todos.insert({ _id: "plain", v: 1 });
    await todos.insert({ _id: "rewritten", v: 1 });
    await todos.insert({ _id: "overtaken", v: 1 });
    const pushed = await store.pendingChanges(["todos"], 10);
    await todos.update("rewritten", { v: 2 }); // written while the push is in flight
    await store.applyRemoteChanges([remote("overtaken", "9-o", 9n, { v: "other" })], undefined);
    const events: ChangeEvent[] = [];
    const sub = todos.changes().subscribe((e) => events.push(e));
    await store.acknowledgeAll!(pushed.map((change, n) => ({ change, accepted: { revision: `1-${change.documentId}`, serverSequence: BigInt(n + 1) } })));
    sub.unsubscribe();
    expect(await todos.get("plain")).toMatchObject({ v: 1, _rev: "1-plain" });
    expect(await todos.get("overtaken")).toMatchObject({ v: "other", _rev: "9-o" });
    const pending = await store.pendingChanges(["todos"], 10);
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ documentId: "rewritten", document: { v: 2 }, baseRevision: "1-rewritten", baseDocument: { v: 1 } });
    expect(events.map((e) => [e.documentId, e.operation, e.isFromSync])).toEqual([
      ["plain", "update", true],
      ["overtaken", "update", true],
    ]);
  });

  it("reads the outbox's documents in one read per batch", async () => {
    const { db, io } = await flakyDb();
    const todos = db.collection("todos");
    for (let i = 0; i < 50; i++) await todos.insert({ _id: `d${i}`, n: i });
    const reads = io.gets + io.getManys;
    const batch = await db.syncStore.pendingChanges(["todos"], 20);
    expect(batch.map((p) => p.documentId)).toEqual(Array.from({ length: 20 }, (_, i) => `d${i}`));
    expect(io.gets + io.getManys - reads).toBe(1);
    expect(await db.syncStore.pendingCount(["todos"])).toBe(50);
  });

  it("applies a page of remote changes with one read and one write, checkpoint included", async () => {
    const { db, io, fail } = await flakyDb();
    const store = db.syncStore;
    const reads = io.gets + io.getManys;
    const batches = io.batches;
    await store.applyRemoteChanges(
      Array.from({ length: 30 }, (_, i) => remote(`r${i}`, `1-${i}`, BigInt(i + 1), { n: i })),
      new Uint8Array([4]),
    );
    expect(io.gets + io.getManys - reads).toBe(1);
    expect(io.batches - batches).toBe(1);
    expect(await db.collection("todos").find()).toHaveLength(30);

    // A failed write stores neither the changes nor the checkpoint.
    fail.next = true;
    await expect(store.applyRemoteChanges([remote("late", "1-late", 99n, { n: 1 })], new Uint8Array([5]))).rejects.toThrow("disk full");
    expect(await db.collection("todos").get("late")).toBeNull();
    expect(await store.getCheckpoint()).toEqual(new Uint8Array([4]));
  });

  it("pages through the outbox past other collections' entries, also on a store that ignores limit and gt or has no nextv", async () => {
    for (const kind of ["abstract-level", "ignores limit and gt", "plain async iterable"]) {
      const { MemoryLevel } = await import("memory-level");
      const level = new MemoryLevel<string, string>() as unknown as LevelLike;
      const rangeOnly = (o: { gte?: string; lt?: string }) => ({ ...(o.gte !== undefined ? { gte: o.gte } : {}), ...(o.lt !== undefined ? { lt: o.lt } : {}) });
      const storage: LevelLike =
        kind === "abstract-level"
          ? level
          : {
              open: () => level.open(),
              close: () => level.close(),
              get: (k) => level.get(k),
              put: (k, v) => level.put(k, v),
              batch: (ops) => level.batch(ops),
              iterator:
                kind === "ignores limit and gt"
                  ? (o) => level.iterator(rangeOnly(o))
                  : (o) =>
                      (async function* () {
                        yield* level.iterator(rangeOnly(o));
                      })(),
            };
      const db = await createDatabase({ name: "paging", storage });
      open.push(db);
      for (let i = 0; i < 1500; i++) await db.collection(i % 3 === 0 ? "todos" : "notes").insert({ _id: `d${i}`, n: i });
      const todos = Array.from({ length: 500 }, (_, k) => `d${3 * k}`);
      expect((await db.syncStore.pendingChanges(["todos"], 7)).map((p) => p.documentId)).toEqual(todos.slice(0, 7));
      expect((await db.syncStore.pendingChanges(["todos"], 600)).map((p) => p.documentId)).toEqual(todos);
      expect(await db.syncStore.pendingCount(["todos"])).toBe(500);
      expect(await db.syncStore.pendingCount(["notes", "todos"])).toBe(1500);
      expect(await db.syncStore.pendingChanges(["todos"], 0)).toEqual([]);
    }
  });

  it("opens a database written before the compact record encoding and syncs on from it", async () => {
    const { MemoryLevel } = await import("memory-level");
    const level = new MemoryLevel<string, string>() as unknown as LevelLike;
    await level.open();
    // As the earlier version stored them: every field in full.
    const server = { rev: "1-a", seq: "1", doc: { v: 1 }, ts: ["4", 0], by: "other" };
    await level.batch([
      { type: "put", key: "m/clientId", value: "0123456789abcdef0123456789abcdef" },
      { type: "put", key: "m/clientSeq", value: "7" },
      { type: "put", key: "d/todos/clean", value: JSON.stringify({ doc: { v: 1 }, rev: "1-a", ts: ["4", 0], by: "other", base: "1-a", baseDoc: { v: 1 }, server }) },
      { type: "put", key: "d/todos/edited", value: JSON.stringify({ doc: { v: 2 }, rev: "local-7", ts: ["5", 0], by: "me", pending: "7", base: "1-a", baseDoc: { v: 1 }, server }) },
      { type: "put", key: `o/${"7".padStart(20, "0")}`, value: JSON.stringify({ c: "todos", i: "edited" }) },
    ]);
    const db = await createDatabase({ name: "old", storage: level });
    open.push(db);
    const todos = db.collection("todos");
    expect(await todos.get("clean")).toEqual({ v: 1, _id: "clean", _rev: "1-a" });
    const [pending] = await db.syncStore.pendingChanges(["todos"], 10);
    expect(pending).toMatchObject({ documentId: "edited", clientSequence: 7n, document: { v: 2 }, baseRevision: "1-a", baseDocument: { v: 1 } });
    await db.syncStore.acknowledgeAll!([{ change: pending!, accepted: { revision: "2-e", serverSequence: 2n } }]);
    expect(await todos.get("edited")).toEqual({ v: 2, _id: "edited", _rev: "2-e" });
    await todos.update("clean", { v: 3 });
    const [next] = await db.syncStore.pendingChanges(["todos"], 10);
    expect(next).toMatchObject({ documentId: "clean", clientSequence: 8n, baseRevision: "1-a", baseDocument: { v: 1 } });
  });

  it("emits the events of a remote page to whoever listens once it is stored, even if they came while it was written", async () => {
    let release: () => void = () => undefined;
    let hold = false;
    const { storage } = memoryStorage({
      async beforeBatch() {
        if (hold) await new Promise<void>((r) => (release = r));
      },
    });
    const db = await createDatabase({ name: "late", storage });
    open.push(db);
    const todos = db.collection("todos");
    await db.syncStore.applyRemoteChanges([remote("a", "1-a", 1n, { v: 1 })], undefined); // nobody listens: no event is built
    hold = true;
    const writing = db.syncStore.applyRemoteChanges([remote("a", "2-a", 2n, { v: 2 }), remote("b", "1-b", 3n, { v: 1 })], undefined);
    await new Promise((r) => setTimeout(r, 10));
    const events: ChangeEvent[] = [];
    todos.changes().subscribe((e) => events.push(e));
    const live = firstValueFrom(todos.observe().pipe(filter((docs) => docs.length === 2)));
    hold = false;
    release();
    await writing;
    expect(events.map((e) => [e.operation, e.documentId, e.document, e.previousDocument])).toEqual([
      ["update", "a", { v: 2, _id: "a", _rev: "2-a" }, { v: 1, _id: "a", _rev: "1-a" }],
      ["insert", "b", { v: 1, _id: "b", _rev: "1-b" }, null],
    ]);
    expect(events[1]!.sequence).toBe(events[0]!.sequence + 1);
    expect((await live).map((d) => d._rev)).toEqual(["2-a", "1-b"]);
  });
});
