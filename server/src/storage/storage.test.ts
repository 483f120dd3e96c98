// One suite, run on every storage: what the core relies on.
import { create } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ChangeEventSchema, Operation } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createLevelStorage, createMemoryStorage } from "./index.js";
import type { Storage, StoredChange } from "./types.js";

function stored(collection: string, documentId: string, serverSequence: bigint, extra: { deleted?: boolean; at?: number; document?: string } = {}): StoredChange {
  return {
    committedAtMs: extra.at ?? 1_000,
    event: create(ChangeEventSchema, {
      operation: extra.deleted ? Operation.DELETE : Operation.UPDATE,
      collection,
      documentId,
      document: extra.deleted ? "" : (extra.document ?? `{"v":${serverSequence}}`),
      deleted: extra.deleted ?? false,
      revision: `r${serverSequence}`,
      serverSequence,
      clientId: "c",
      clientSequence: serverSequence,
      timestamp: { wallTimeMs: 5n, logical: 0 },
    }),
  };
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), "pocket-storage-"));
  dirs.push(dir);
  return dir;
}

const backends: Array<[string, () => { make: () => Storage }]> = [
  ["memory", () => ({ make: createMemoryStorage })],
  ["level", () => { const dir = tempDir(); return { make: () => createLevelStorage(dir) }; }],
];

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
    await storage.commit({ changes: [stored("todos", "a", 1n), stored("todos", "b", 2n)], idempotency: [], lastSequence: 2n }, { sync: false });
    await storage.commit({ changes: [stored("todos", "a", 3n), stored("notes", "a", 4n)], idempotency: [], lastSequence: 4n }, { sync: false });
    const todos = await storage.readChanges("todos", 0n, 10n, 100);
    expect(todos.map((c) => [c.event.documentId, c.event.serverSequence])).toEqual([["b", 2n], ["a", 3n]]);
    expect((await storage.readChanges("todos", 2n, 10n, 100)).map((c) => c.event.serverSequence)).toEqual([3n]);
    expect((await storage.readChanges("todos", 0n, 2n, 100)).map((c) => c.event.serverSequence)).toEqual([2n]);
    expect((await storage.readChanges("todos", 0n, 10n, 1)).length).toBe(1);
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

  it("moves a document written twice in one batch to its last sequence", async () => {
    const storage = setup().make();
    await storage.open();
    await storage.commit({ changes: [stored("t", "x", 1n), stored("t", "x", 2n)], idempotency: [], lastSequence: 2n }, { sync: true });
    expect((await storage.readChanges("t", 0n, 9n, 10)).map((c) => c.event.serverSequence)).toEqual([2n]);
    await storage.close();
  });

  it("stores documents byte for byte and idempotency records with their outcome", async () => {
    const storage = setup().make();
    await storage.open();
    const text = '{"z":1,"a":[1,2,{"ü":"☕"}],"big":9007199254740993}';
    const change = stored("todos", "u", 1n, { document: text });
    await storage.commit({
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

  it("keeps superseded states by revision until they are purged", async () => {
    const storage = setup().make();
    await storage.open();
    const old = stored("t", "a", 1n, { document: '{"v":1}' });
    await storage.commit({ changes: [stored("t", "a", 2n)], history: [{ ...old, committedAtMs: 50 }], idempotency: [], lastSequence: 2n }, { sync: false });
    expect((await storage.getHistoricState("t", "a", "r1"))?.event.document).toBe('{"v":1}');
    expect(await storage.getHistoricState("t", "a", "r9")).toBeUndefined();
    await storage.purge(100);
    expect(await storage.getHistoricState("t", "a", "r1")).toBeUndefined();
    await storage.close();
  });

  it("purges old tombstones and records, and remembers how far per collection", async () => {
    const storage = setup().make();
    await storage.open();
    await storage.commit({
      changes: [stored("t", "old", 1n, { deleted: true, at: 10 }), stored("t", "live", 2n, { at: 10 }), stored("t", "new", 3n, { deleted: true, at: 500 })],
      idempotency: [{ clientId: "c", clientSequence: 1n, fingerprint: "f", outcome: "accepted", serverSequence: 1n, revision: "r1", committedAtMs: 10 }],
      lastSequence: 3n,
    }, { sync: false });
    const result = await storage.purge(100);
    expect(result).toEqual({ tombstonesPurged: 1, idempotencyRecordsPurged: 1, purgedThrough: { t: 1n } });
    expect((await storage.readChanges("t", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["live", "new"]);
    expect((await storage.getDocuments([{ collection: "t", documentId: "old" }]))[0]).toBeUndefined();
    expect((await storage.getIdempotencyRecords("c", [1n]))[0]).toBeUndefined();
    await storage.close();
  });
});

describe("level storage on disk", () => {
  it("keeps everything across a reopen: documents, sequence, epoch, purge watermarks", async () => {
    const dir = tempDir();
    const first = createLevelStorage(dir);
    const meta = await first.open();
    await first.commit({ changes: [stored("t", "a", 4n, { deleted: true, at: 1 }), stored("t", "b", 5n)], idempotency: [], lastSequence: 5n }, { sync: true });
    await first.purge(100);
    await first.close();
    const second = createLevelStorage(dir);
    const reopened = await second.open();
    expect(reopened).toEqual({ epoch: meta.epoch, lastSequence: 5n, purgedThrough: { t: 4n } });
    expect((await second.readChanges("t", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["b"]);
    await second.close();
  });
});
