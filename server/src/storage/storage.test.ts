// One suite, run on every storage: what the core relies on.
// PostgreSQL joins when POCKET_TEST_POSTGRES_URL is set (bash
// scripts/start-postgres.sh starts one and prints it); CI must set it.
import { describe, expect, it } from "vitest";
import { ClientIdAlreadyBound, createLevelStorage, IdempotencyKeyTaken } from "./index.js";
import { changesOf, commit, postgresUrl, record, storageBackends, storageDir, stored } from "./testing.js";
import type { Storage } from "./types.js";

const backends = storageBackends();

describe.each(backends)("%s storage", (_name, setup) => {
  it("creates an epoch once and starts at sequence 0", async () => {
    const storage = setup().make();
    const meta = await storage.open();
    expect(meta.epoch).toMatch(/[0-9a-f-]{36}/);
    expect(meta.lastSequence).toBe(0n);
    await storage.close();
  });

  it("keeps one index entry per document: its latest change", async () => {
    const storage = setup().make();
    await storage.open();
    await commit(storage, { changes: [stored("todos", "a", 1n), stored("todos", "b", 2n)], idempotency: [], lastSequence: 2n }, { sync: false });
    await commit(storage, { changes: [stored("todos", "a", 3n), stored("notes", "a", 4n)], idempotency: [], lastSequence: 4n }, { sync: false });
    const todos = await changesOf(storage, "todos", 0n, 10n, 100);
    expect(todos.map((c) => [c.event.documentId, c.event.serverSequence])).toEqual([["b", 2n], ["a", 3n]]);
    expect((await changesOf(storage, "todos", 2n, 10n, 100)).map((c) => c.event.serverSequence)).toEqual([3n]);
    expect((await changesOf(storage, "todos", 0n, 2n, 100)).map((c) => c.event.serverSequence)).toEqual([2n]);
    expect((await changesOf(storage, "todos", 0n, 10n, 1)).length).toBe(1);
    const [a, missing, note] = await storage.getDocuments([
      { collection: "todos", documentId: "a" },
      { collection: "todos", documentId: "zzz" },
      { collection: "notes", documentId: "a" },
    ]);
    expect(a?.event.serverSequence).toBe(3n);
    expect(missing).toBeUndefined();
    expect(note?.event.collection).toBe("notes");
    await storage.close();
  });

  it("lists every collection that holds a change, in byte order, however their names nest", async () => {
    const storage = setup().make();
    await storage.open();
    expect(await storage.listCollections()).toEqual([]);
    // Names that are prefixes of one another, and one that sorts between a name and its longer siblings.
    const names = ["todos", "a", "a-b", "ab", "a_", "Z", "todos2"];
    await commit(storage, { changes: names.map((name, i) => stored(name, `d${i}`, BigInt(i + 1))), idempotency: [], lastSequence: 7n });
    // Many documents in one collection cost one step, not one per document.
    await commit(storage, { changes: Array.from({ length: 50 }, (_, i) => stored("ab", `more${i}`, BigInt(8 + i))), idempotency: [], lastSequence: 57n });
    expect(await storage.listCollections()).toEqual([...names].sort((x, y) => (Buffer.from(x) < Buffer.from(y) ? -1 : 1)));
    await storage.close();
  });

  it("keeps superseded states by the sequence that superseded them, and answers the state a document had at a sequence", async () => {
    const storage = setup().make();
    await storage.open();
    const v1 = stored("t", "a", 1n);
    const v3 = stored("t", "a", 3n);
    await commit(storage, { changes: [v1, stored("t", "b", 2n)], idempotency: [], lastSequence: 2n });
    await commit(storage, { changes: [v3], superseded: [{ event: v1.event, supersededBy: 3n, supersededAtMs: 50 }], idempotency: [], lastSequence: 3n });
    await commit(storage, { changes: [stored("t", "a", 6n)], superseded: [{ event: v3.event, supersededBy: 6n, supersededAtMs: 500 }], idempotency: [], lastSequence: 6n });
    const at = (documentId: string, sequence: bigint, collection = "t") => ({ collection, documentId, sequence });
    const { states, purgedThrough } = await storage.getStatesAt([at("a", 0n), at("a", 1n), at("a", 2n), at("a", 3n), at("a", 5n), at("a", 6n), at("b", 2n), at("a", 2n, "other")]);
    expect(states.map((s) => s?.serverSequence)).toEqual([undefined, 1n, 1n, 3n, 3n, undefined, undefined, undefined]);
    expect(purgedThrough).toEqual({});
    expect(await storage.getStatesAt([])).toEqual({ states: [], purgedThrough: {} });
    // Purged with the retention: the watermark rises to the sequence that superseded it.
    const result = await storage.purge(100);
    expect(result.purgedThrough).toEqual({ t: 3n });
    // Read with the watermark that says why the first is gone.
    const after = await storage.getStatesAt([at("a", 1n), at("a", 4n)]);
    expect(after.states.map((s) => s?.serverSequence)).toEqual([undefined, 3n]);
    expect(after.purgedThrough).toEqual({ t: 3n });
    await storage.close();
  });

  it("moves a document written twice in one batch to its last sequence", async () => {
    const storage = setup().make();
    await storage.open();
    await commit(storage, { changes: [stored("t", "x", 1n), stored("t", "x", 2n)], idempotency: [], lastSequence: 2n }, { sync: true });
    expect((await changesOf(storage, "t", 0n, 9n, 10)).map((c) => c.event.serverSequence)).toEqual([2n]);
    await storage.close();
  });

  it("stores documents byte for byte and idempotency records with their outcome", async () => {
    const storage = setup().make();
    await storage.open();
    const text = '{"z":1,"a":[1,2,{"ü":"☕"}],"big":9007199254740993}';
    const change = stored("todos", "u", 1n, { document: text });
    await commit(storage, {
      changes: [change],
      idempotency: [{ clientId: "c", clientSequence: 7n, fingerprint: "f", outcome: "resolved", serverSequence: 1n, revision: "r1", resolved: change, strategy: "merge", committedAtMs: 1 }],
      lastSequence: 1n,
    }, { sync: false });
    expect((await storage.getDocuments([{ collection: "todos", documentId: "u" }]))[0]?.event.document).toBe(text);
    const [record, none] = await storage.getIdempotencyRecords("c", [7n, 8n]);
    expect(record?.outcome).toBe("resolved");
    expect(record?.resolved?.event.document).toBe(text);
    expect(none).toBeUndefined();
    await storage.close();
  });

  it("keeps idempotency records for any uint64 client sequence", async () => {
    const storage = setup().make();
    await storage.open();
    const record = (clientSequence: bigint) => ({ clientId: "c", clientSequence, fingerprint: `f${clientSequence}`, outcome: "accepted" as const, serverSequence: 1n, revision: "r1", committedAtMs: 1 });
    const huge = [2n ** 64n - 1n, 2n ** 63n, 2n ** 63n - 1n, 1n];
    await commit(storage, { changes: [stored("t", "a", 1n)], idempotency: huge.map(record), lastSequence: 1n }, { sync: false });
    const found = await storage.getIdempotencyRecords("c", [...huge, 2n]);
    expect(found.map((r) => r?.fingerprint)).toEqual([...huge.map((s) => `f${s}`), undefined]);
    expect(found[0]?.clientSequence).toBe(2n ** 64n - 1n);
    await storage.close();
  });

  it("keeps superseded states by revision until they are purged", async () => {
    const storage = setup().make();
    await storage.open();
    const old = stored("t", "a", 1n, { document: '{"v":1}' });
    await commit(storage, { changes: [stored("t", "a", 2n)], history: [{ ...old, committedAtMs: 50 }], idempotency: [], lastSequence: 2n }, { sync: false });
    expect((await storage.getHistoricState("t", "a", "r1"))?.event.document).toBe('{"v":1}');
    expect(await storage.getHistoricState("t", "a", "r9")).toBeUndefined();
    await storage.purge(100);
    expect(await storage.getHistoricState("t", "a", "r1")).toBeUndefined();
    await storage.close();
  });

  it("binds a client id once, in the same atomic write as the batch, and keeps the binding through purges", async () => {
    const storage = setup().make();
    await storage.open();
    expect(await storage.getClientOwner("c1")).toBeUndefined();
    await commit(storage, { changes: [stored("t", "a", 1n, { at: 10 })], idempotency: [], owners: [{ clientId: "c1", principal: "alice" }], lastSequence: 1n }, { sync: false });
    expect(await storage.getClientOwner("c1")).toBe("alice");
    expect(await storage.getClientOwner("c2")).toBeUndefined();
    // A second binding of the same client id, for another principal or the
    // same one, fails the whole batch: nothing of it is written.
    for (const principal of ["bob", "alice"]) {
      const batch = { changes: [stored("t", "b", 2n)], idempotency: [], owners: [{ clientId: "c2", principal: "carol" }, { clientId: "c1", principal }], lastSequence: 2n };
      const error = await commit(storage, batch, { sync: true }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClientIdAlreadyBound);
      expect((error as ClientIdAlreadyBound).clientId).toBe("c1");
      expect((await changesOf(storage, "t", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["a"]);
      expect(await storage.getClientOwner("c2")).toBeUndefined();
    }
    expect(await storage.getClientOwner("c1")).toBe("alice");
    await storage.purge(1_000_000);
    expect(await storage.getClientOwner("c1")).toBe("alice");
    await storage.close();
  });

  it("runs commit groups one after another, each from the last sequence the one before committed", async () => {
    const storage = setup().make();
    await storage.open();
    const seen: bigint[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inFirst = new Promise<void>((resolve) => (entered = resolve));
    const first = storage.commitGroup(async (_reader, last) => {
      seen.push(last);
      entered();
      await held; // the second group must wait for this one
      return { batch: { changes: [stored("t", "a", last + 1n), stored("t", "b", last + 2n)], idempotency: [], lastSequence: last + 2n }, result: "first" };
    }, { sync: false });
    await inFirst;
    const second = storage.commitGroup(async (reader, last) => {
      seen.push(last);
      const [a] = await reader.getDocuments([{ collection: "t", documentId: "a" }]);
      return { batch: { changes: [stored("t", "c", last + 1n)], idempotency: [], lastSequence: last + 1n }, result: a?.event.serverSequence };
    }, { sync: false });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toEqual([0n]);
    release();
    expect(await first).toEqual({ result: "first", after: 0n, lastSequence: 2n });
    // It read what the first group wrote.
    expect(await second).toEqual({ result: 1n, after: 2n, lastSequence: 3n });
    expect(seen).toEqual([0n, 2n]);
    expect(await storage.readPosition()).toEqual({ lastSequence: 3n, purgedThrough: {} });
    // A group that writes nothing leaves the counter where it was.
    expect(await storage.commitGroup(async (_r, last) => ({ result: last }), { sync: false })).toEqual({ result: 3n, after: 3n, lastSequence: 3n });
    await storage.close();
  });

  it("writes nothing of a group whose work fails, or whose batch holds sequences outside its range", async () => {
    const storage = setup().make();
    await storage.open();
    await commit(storage, { changes: [stored("t", "a", 1n)], idempotency: [], lastSequence: 1n });
    await expect(storage.commitGroup(async () => {
      throw new Error("the work failed");
    }, { sync: false })).rejects.toThrow("the work failed");
    for (const batch of [
      { changes: [stored("t", "b", 1n)], idempotency: [], lastSequence: 2n }, // reuses a committed sequence
      { changes: [stored("t", "b", 3n)], idempotency: [], lastSequence: 2n }, // above its own last sequence
      { changes: [], idempotency: [record(9n)], lastSequence: 0n }, // moves the counter back
    ]) {
      await expect(commit(storage, batch)).rejects.toThrow(/commit batch/);
    }
    expect(await storage.readPosition()).toMatchObject({ lastSequence: 1n });
    expect((await changesOf(storage, "t", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["a"]);
    expect((await storage.getIdempotencyRecords("c", [9n]))[0]).toBeUndefined();
    await storage.close();
  });

  it("stores an idempotency key once: a second record under it fails the whole group", async () => {
    const storage = setup().make();
    await storage.open();
    await commit(storage, { changes: [stored("t", "a", 1n)], idempotency: [record(7n)], lastSequence: 1n });
    const error = await commit(storage, { changes: [stored("t", "b", 2n)], idempotency: [record(8n), record(7n, { fingerprint: "other" })], lastSequence: 2n })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotencyKeyTaken);
    expect(error).toMatchObject({ clientId: "c", clientSequence: 7n });
    expect((await changesOf(storage, "t", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["a"]);
    expect((await storage.getIdempotencyRecords("c", [7n, 8n])).map((r) => r?.fingerprint)).toEqual(["f7", undefined]);
    await storage.close();
  });

  it("reads documents, idempotency records and client owners in one batch, in the order asked", async () => {
    const storage = setup().make();
    await storage.open();
    await commit(storage, {
      changes: [stored("t", "a", 1n), stored("u", "a", 2n)],
      idempotency: [record(5n), record(6n, { clientId: "d" })],
      owners: [{ clientId: "c", principal: "alice" }],
      lastSequence: 2n,
    });
    const found = await storage.readBatch({
      documents: [{ collection: "u", documentId: "a" }, { collection: "t", documentId: "zz" }, { collection: "t", documentId: "a" }],
      records: [{ clientId: "d", clientSequence: 6n }, { clientId: "c", clientSequence: 6n }, { clientId: "c", clientSequence: 5n }],
      owners: ["nobody", "c"],
    });
    expect(found.documents.map((d) => d?.event.serverSequence)).toEqual([2n, undefined, 1n]);
    expect(found.records.map((r) => r?.fingerprint)).toEqual(["f6", undefined, "f5"]);
    expect(found.owners).toEqual([undefined, "alice"]);
    expect(await storage.readBatch({ documents: [], records: [], owners: [] })).toEqual({ documents: [], records: [], owners: [] });
    await storage.close();
  });

  it("reads a page of several collections with the position it was read at, capped by upTo", async () => {
    const storage = setup().make();
    await storage.open();
    await commit(storage, { changes: [stored("a", "1", 1n), stored("b", "1", 2n), stored("a", "2", 3n), stored("b", "2", 4n)], idempotency: [], lastSequence: 4n });
    const page = await storage.readPage([["b", 0n], ["a", 1n], ["none", 0n]], 10);
    expect(page.position).toEqual({ lastSequence: 4n, purgedThrough: {} });
    expect(page.changes.map((list) => list.map((c) => c.event.serverSequence))).toEqual([[2n, 4n], [3n], []]);
    const capped = await storage.readPage([["a", 0n], ["b", 0n]], 1, 3n);
    expect(capped.changes.map((list) => list.map((c) => c.event.serverSequence))).toEqual([[1n], [2n]]);
    expect((await storage.readPage([], 10)).position.lastSequence).toBe(4n);
    await storage.close();
  });

  it("purges old tombstones and records, and remembers how far per collection", async () => {
    const storage = setup().make();
    await storage.open();
    await commit(storage, {
      changes: [stored("t", "old", 1n, { deleted: true, at: 10 }), stored("t", "live", 2n, { at: 10 }), stored("t", "new", 3n, { deleted: true, at: 500 })],
      idempotency: [{ clientId: "c", clientSequence: 1n, fingerprint: "f", outcome: "accepted", serverSequence: 1n, revision: "r1", committedAtMs: 10 }],
      lastSequence: 3n,
    }, { sync: false });
    const result = await storage.purge(100);
    expect(result).toEqual({ tombstonesPurged: 1, idempotencyRecordsPurged: 1, purgedThrough: { t: 1n } });
    expect(await storage.readPosition()).toEqual({ lastSequence: 3n, purgedThrough: { t: 1n } });
    expect((await storage.readPage([["t", 0n]], 10)).position.purgedThrough).toEqual({ t: 1n });
    expect((await changesOf(storage, "t", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["live", "new"]);
    expect((await storage.getDocuments([{ collection: "t", documentId: "old" }]))[0]).toBeUndefined();
    expect((await storage.getIdempotencyRecords("c", [1n]))[0]).toBeUndefined();
    await storage.close();
  });

  it("takes a sequence and raises every watermark to it when the read rule's name changes, once, and keeps the name", async () => {
    const made = setup();
    const storage = made.make();
    await storage.open();
    // A data set from before named rules holds "": naming none changes nothing.
    expect(await storage.setReadRule("")).toBe(false);
    // Nothing committed yet: nobody holds a position, no sequence is taken.
    expect(await storage.setReadRule("owner-field ownerId")).toBe(true);
    expect(await storage.readPosition()).toEqual({ lastSequence: 0n, purgedThrough: {} });
    await commit(storage, {
      changes: [stored("t", "gone", 1n, { deleted: true, at: 10 }), stored("t", "a", 2n, { at: 10 }), stored("notes", "n", 3n, { at: 500 })],
      idempotency: [],
      lastSequence: 3n,
    });
    await storage.purge(100);
    // "purged" keeps a watermark but no change any more.
    await commit(storage, { changes: [stored("purged", "x", 4n, { deleted: true, at: 10 })], idempotency: [], lastSequence: 4n });
    await storage.purge(100);
    expect(await storage.readPosition()).toEqual({ lastSequence: 4n, purgedThrough: { t: 1n, purged: 4n } });
    expect(await storage.setReadRule("owner-field ownerId")).toBe(false);
    expect(await storage.readPosition()).toEqual({ lastSequence: 4n, purgedThrough: { t: 1n, purged: 4n } });

    // Sequence 5 is the rename's: every position up to 4 is below the watermarks, a position of 5 is not.
    expect(await storage.setReadRule("owner-field teamId")).toBe(true);
    const raised = { t: 5n, notes: 5n, purged: 5n };
    expect(await storage.readPosition()).toEqual({ lastSequence: 5n, purgedThrough: raised });
    expect((await storage.readPage([["notes", 0n]], 10)).position).toEqual({ lastSequence: 5n, purgedThrough: raised });
    // Nothing stored is touched: a client starting over finds every document.
    expect((await changesOf(storage, "t", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["a"]);
    expect((await changesOf(storage, "notes", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["n"]);
    // The next commit group starts above it.
    const group = await storage.commitGroup(async (_reader, last) => ({ result: last, batch: { changes: [stored("t", "b", last + 1n)], idempotency: [], lastSequence: last + 1n } }), { sync: false });
    expect(group).toEqual({ result: 5n, after: 5n, lastSequence: 6n });
    expect(await storage.readPosition()).toEqual({ lastSequence: 6n, purgedThrough: raised });
    await storage.close();

    if (_name === "memory") return; // nothing outlives the process
    const again = made.make();
    expect(await again.open()).toMatchObject({ lastSequence: 6n, purgedThrough: raised });
    expect(await again.setReadRule("owner-field teamId")).toBe(false);
    expect(await again.setReadRule("")).toBe(true);
    expect(await again.readPosition()).toEqual({ lastSequence: 7n, purgedThrough: { t: 7n, notes: 7n, purged: 7n } });
    await again.close();
  });

  it("purges records and kept history by their own cutoff, tombstones by theirs", async () => {
    const storage = setup().make();
    await storage.open();
    const old = stored("t", "kept", 1n, { document: '{"v":1}' });
    await commit(storage, {
      changes: [stored("t", "old", 2n, { deleted: true, at: 10 }), stored("t", "kept", 3n, { at: 10 })],
      history: [{ ...old, committedAtMs: 10 }],
      idempotency: [{ clientId: "c", clientSequence: 1n, fingerprint: "f", outcome: "accepted", serverSequence: 2n, revision: "r2", committedAtMs: 10 }],
      lastSequence: 3n,
    }, { sync: false });
    expect(await storage.purge(100, 5)).toEqual({ tombstonesPurged: 1, idempotencyRecordsPurged: 0, purgedThrough: { t: 2n } });
    expect((await storage.getIdempotencyRecords("c", [1n]))[0]?.revision).toBe("r2");
    expect((await storage.getHistoricState("t", "kept", "r1"))?.event.document).toBe('{"v":1}');
    expect((await storage.purge(100, 100)).idempotencyRecordsPurged).toBe(1);
    expect(await storage.getHistoricState("t", "kept", "r1")).toBeUndefined();
    await storage.close();
  });
});

describe("level storage on disk", () => {
  it("keeps everything across a reopen: documents, sequence, epoch, purge watermarks", async () => {
    const dir = storageDir();
    const first = createLevelStorage(dir);
    const meta = await first.open();
    await commit(first, { changes: [stored("t", "a", 4n, { deleted: true, at: 1 }), stored("t", "b", 5n)], idempotency: [], owners: [{ clientId: "c", principal: "alice" }], lastSequence: 5n }, { sync: true });
    await first.purge(100);
    await first.close();
    const second = createLevelStorage(dir);
    const reopened = await second.open();
    expect(reopened).toEqual({ epoch: meta.epoch, lastSequence: 5n, purgedThrough: { t: 4n } });
    expect(await second.getClientOwner("c")).toBe("alice");
    expect((await changesOf(second, "t", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["b"]);
    await second.close();
  });
});

if (!postgresUrl) {
  if (process.env.CI) {
    describe("postgres storage", () => {
      it("is tested in CI", () => {
        throw new Error("CI must test the postgres storage: set POCKET_TEST_POSTGRES_URL (bash scripts/start-postgres.sh starts PostgreSQL and prints it)");
      });
    });
  } else {
    describe.skip("postgres storage: skipped, POCKET_TEST_POSTGRES_URL is not set (bash scripts/start-postgres.sh starts PostgreSQL and prints it)", () => {
      it("runs the shared suite, several servers on one schema, migrations, reopening and atomicity on PostgreSQL", () => {});
    });
  }
}

