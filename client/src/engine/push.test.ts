// The push loop against the in-memory fake service: results stored in one
// write, the local work overlapping the network, one push on the wire at a time.
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { firstValueFrom } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import { SyncService } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createDatabase, type Database } from "../db/database.js";
import type { SyncStore } from "../store.js";
import { fakeServer } from "../test-support/fake-sync-service.js";
import { memoryStorage } from "../test-support/memory-storage.js";
import { createSyncEngine, type SyncEngine } from "./engine.js";

const dbs: Database[] = [];
const engines: SyncEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
  await Promise.all(dbs.splice(0).map((d) => d.close()));
});

async function database(storage: Parameters<typeof createDatabase>[0]["storage"] = "memory") {
  const db = await createDatabase({ name: "push", storage });
  dbs.push(db);
  return db;
}

function pushEngine(store: Database | SyncStore, transport: ReturnType<typeof fakeServer>["transport"], batchSize: number) {
  const engine = createSyncEngine(store, { serverUrl: "http://fake", collections: ["todos"], transport, direction: "push", batchSize });
  engines.push(engine);
  return engine;
}

describe("storing push results", () => {
  it("acknowledges a pushed batch in one write; if that write fails, the batch is pushed again with the same client sequences", async () => {
    const { fake, transport } = fakeServer();
    let failBatches = 0;
    const { storage, io } = memoryStorage({
      beforeBatch: () => {
        if (failBatches > 0) {
          failBatches--;
          throw new Error("disk full");
        }
      },
    });
    const db = await database(storage);
    const engine = pushEngine(db, transport, 10);
    const todos = db.collection("todos");
    for (let i = 0; i < 10; i++) await todos.insert({ _id: `d${i}`, n: i });

    failBatches = 1;
    await expect(engine.forceSync()).rejects.toThrow("disk full");
    expect(await db.syncStore.pendingCount(["todos"])).toBe(10);
    expect(fake.pushes).toHaveLength(1);

    const before = io.batches;
    await engine.forceSync();
    expect(io.batches - before).toBe(1);
    expect(fake.pushes).toHaveLength(2);
    expect(fake.pushes[1]!.changes.map((c) => c.clientSequence)).toEqual(fake.pushes[0]!.changes.map((c) => c.clientSequence));
    expect(await db.syncStore.pendingCount(["todos"])).toBe(0);
    expect((await firstValueFrom(engine.getStats())).pushCount).toBe(10);
  });
});

describe("pushing batches", () => {
  it("reads the next batch while one travels and stores a result while the next travels, but never sends two at once", async () => {
    const { fake, transport } = fakeServer();
    const log: string[] = [];
    let pushing = 0;
    let overlapped = false;
    const slow = createRouterTransport(({ service }) => {
      service(SyncService, {
        async push(request, context) {
          if (pushing++ > 0) overlapped = true;
          log.push("push");
          await new Promise((r) => setTimeout(r, 30));
          const answer = await createClient(SyncService, transport).push(request, { signal: context.signal });
          log.push("answered");
          pushing--;
          return answer;
        },
        pull: () => ({ changes: [], hasMore: false }),
        async *subscribe() {},
      });
    });
    const db = await database();
    const store = db.syncStore;
    const logged: SyncStore = {
      ...store,
      pendingChanges: async (collections, limit) => {
        const changes = await store.pendingChanges(collections, limit);
        log.push(`read ${changes.length}`);
        return changes;
      },
      acknowledgeAll: async (acks) => {
        await new Promise((r) => setTimeout(r, 15)); // a slow disk
        await store.acknowledgeAll!(acks);
        log.push("stored");
      },
    };
    const engine = pushEngine(logged, slow, 10);
    for (let i = 0; i < 30; i++) await db.collection("todos").insert({ _id: `d${i}`, n: i });
    await engine.forceSync();
    expect(overlapped).toBe(false);
    expect(fake.pushes.map((p) => p.changes.map((c) => c.documentId))).toEqual([0, 10, 20].map((from) => Array.from({ length: 10 }, (_, i) => `d${from + i}`)));
    // The second batch was read while the first travelled; the first result was stored while the second travelled.
    expect(log.slice(0, 6), log.join(", ")).toEqual(["read 10", "push", "read 20", "answered", "push", "stored"]); // reads past the 10 on the wire
    expect(await db.syncStore.pendingCount(["todos"])).toBe(0);
  });

  it("pushes a document written while its batch travelled after that batch's result is stored, on the revision it got", async () => {
    const { fake, transport } = fakeServer();
    const db = await database();
    const engine = pushEngine(db, transport, 2);
    const todos = db.collection("todos");
    for (const id of ["a", "b", "c", "d"]) await todos.insert({ _id: id, v: 1 });
    let rewritten = false;
    fake.onPush = (change) => {
      if (change.documentId === "a" && !rewritten) {
        rewritten = true;
        void todos.update("a", { v: 2 }); // while its batch is on the wire
      }
      return undefined;
    };
    await engine.forceSync();
    const pushes = fake.pushes.map((p) => p.changes.map((c) => [c.documentId, c.document, c.baseRevision]));
    expect(pushes[0]!.map(([id]) => id)).toEqual(["a", "b"]);
    // Pushed again, on the revision its first push got: no conflict, each document in one push at a time.
    const later = pushes.slice(1).flat();
    expect(later.find(([id]) => id === "a")).toEqual(["a", '{"v":2}', "1-r"]);
    expect(later.map(([id]) => id).sort()).toEqual(["a", "c", "d"]);
    expect(JSON.parse(fake.docs.get("todos/a")!.document)).toEqual({ v: 2 });
  });
});
