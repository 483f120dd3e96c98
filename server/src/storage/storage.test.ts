// One suite, run on every storage: what the core relies on.
// PostgreSQL joins when POCKET_TEST_POSTGRES_URL is set (bash
// scripts/start-postgres.sh starts one and prints it); CI must set it.
import { create } from "@bufbuild/protobuf";
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ChangeEventSchema, Operation } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { ClientIdAlreadyBound, createLevelStorage, createMemoryStorage, createPostgresStorage, StorageUnavailableError } from "./index.js";
import type { Storage, StorageEvent, StoredChange } from "./types.js";

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
async function eventually(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), "pocket-storage-"));
  dirs.push(dir);
  return dir;
}

const postgresUrl = process.env.POCKET_TEST_POSTGRES_URL;
// Every test gets its own schema, dropped at the end.
const schemas: string[] = [];
function freshSchema() {
  const schema = `pocket_test_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
  schemas.push(schema);
  return schema;
}
afterAll(async () => {
  if (!postgresUrl || schemas.length === 0) return;
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    for (const schema of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
});
const postgres = (schema: string) => createPostgresStorage({ connectionString: postgresUrl!, schema });

const backends: Array<[string, () => { make: () => Storage }]> = [
  ["memory", () => ({ make: createMemoryStorage })],
  ["level", () => { const dir = tempDir(); return { make: () => createLevelStorage(dir) }; }],
];
if (postgresUrl) backends.push(["postgres", () => { const schema = freshSchema(); return { make: () => postgres(schema) }; }]);

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

  it("keeps idempotency records for any uint64 client sequence", async () => {
    const storage = setup().make();
    await storage.open();
    const record = (clientSequence: bigint) => ({ clientId: "c", clientSequence, fingerprint: `f${clientSequence}`, outcome: "accepted" as const, serverSequence: 1n, revision: "r1", committedAtMs: 1 });
    const huge = [2n ** 64n - 1n, 2n ** 63n, 2n ** 63n - 1n, 1n];
    await storage.commit({ changes: [stored("t", "a", 1n)], idempotency: huge.map(record), lastSequence: 1n }, { sync: false });
    const found = await storage.getIdempotencyRecords("c", [...huge, 2n]);
    expect(found.map((r) => r?.fingerprint)).toEqual([...huge.map((s) => `f${s}`), undefined]);
    expect(found[0]?.clientSequence).toBe(2n ** 64n - 1n);
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

  it("binds a client id once, in the same atomic write as the batch, and keeps the binding through purges", async () => {
    const storage = setup().make();
    await storage.open();
    expect(await storage.getClientOwner("c1")).toBeUndefined();
    await storage.commit({ changes: [stored("t", "a", 1n, { at: 10 })], idempotency: [], owners: [{ clientId: "c1", principal: "alice" }], lastSequence: 1n }, { sync: false });
    expect(await storage.getClientOwner("c1")).toBe("alice");
    expect(await storage.getClientOwner("c2")).toBeUndefined();
    // A second binding of the same client id, for another principal or the
    // same one, fails the whole batch: nothing of it is written.
    for (const principal of ["bob", "alice"]) {
      const batch = { changes: [stored("t", "b", 2n)], idempotency: [], owners: [{ clientId: "c2", principal: "carol" }, { clientId: "c1", principal }], lastSequence: 2n };
      const error = await storage.commit(batch, { sync: true }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClientIdAlreadyBound);
      expect((error as ClientIdAlreadyBound).clientId).toBe("c1");
      expect((await storage.readChanges("t", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["a"]);
      expect(await storage.getClientOwner("c2")).toBeUndefined();
    }
    expect(await storage.getClientOwner("c1")).toBe("alice");
    await storage.purge(1_000_000);
    expect(await storage.getClientOwner("c1")).toBe("alice");
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
    await first.commit({ changes: [stored("t", "a", 4n, { deleted: true, at: 1 }), stored("t", "b", 5n)], idempotency: [], owners: [{ clientId: "c", principal: "alice" }], lastSequence: 5n }, { sync: true });
    await first.purge(100);
    await first.close();
    const second = createLevelStorage(dir);
    const reopened = await second.open();
    expect(reopened).toEqual({ epoch: meta.epoch, lastSequence: 5n, purgedThrough: { t: 4n } });
    expect(await second.getClientOwner("c")).toBe("alice");
    expect((await second.readChanges("t", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["b"]);
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
      it("runs the shared suite, the writer lock, reopening and atomicity on PostgreSQL", () => {});
    });
  }
}

describe.runIf(postgresUrl)(`postgres storage, one server per schema${postgresUrl ? "" : ": skipped, POCKET_TEST_POSTGRES_URL is not set"}`, () => {
  it("refuses a second server on the same schema while the first runs", async () => {
    const schema = freshSchema();
    const first = postgres(schema);
    await first.open();
    await expect(postgres(schema).open()).rejects.toThrow(/schema "pocket_test_\w+" is in use by another Pocket Sync server \(PostgreSQL backend pid \d+/);
    const other = postgres(freshSchema()); // another schema of the same database is another data set
    await other.open();
    await other.close();
    await first.close();
    const next = postgres(schema); // closing released the lock
    await next.open();
    await next.close();
  });

  it("keeps everything across a reopen: documents, sequence, epoch, purge watermarks", async () => {
    const schema = freshSchema();
    const first = postgres(schema);
    const meta = await first.open();
    await first.commit({ changes: [stored("t", "a", 4n, { deleted: true, at: 1 }), stored("t", "b", 5n)], idempotency: [], owners: [{ clientId: "c", principal: "alice" }], lastSequence: 5n }, { sync: true });
    await first.purge(100);
    await first.close();
    const second = postgres(schema);
    const reopened = await second.open();
    expect(reopened).toEqual({ epoch: meta.epoch, lastSequence: 5n, purgedThrough: { t: 4n } });
    expect(await second.getClientOwner("c")).toBe("alice");
    expect((await second.readChanges("t", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["b"]);
    expect((await second.getDocuments([{ collection: "t", documentId: "b" }]))[0]?.event.serverSequence).toBe(5n);
    await second.close();
  });

  it("opens a schema from before client-id bindings, adding their table, and keeps its data", async () => {
    const schema = freshSchema();
    const first = postgres(schema);
    await first.open();
    await first.commit({ changes: [stored("t", "a", 1n)], idempotency: [], lastSequence: 1n }, { sync: true });
    await first.close();
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    try {
      await admin.query(`DROP TABLE "${schema}".client_owners`);
    } finally {
      await admin.end();
    }
    const second = postgres(schema);
    expect((await second.open()).lastSequence).toBe(1n);
    expect(await second.getClientOwner("c")).toBeUndefined();
    await second.commit({ changes: [stored("t", "b", 2n)], idempotency: [], owners: [{ clientId: "c", principal: "alice" }], lastSequence: 2n }, { sync: true });
    expect(await second.getClientOwner("c")).toBe("alice");
    expect((await second.readChanges("t", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["a", "b"]);
    await second.close();
  });

  it("applies a batch entirely or not at all", async () => {
    const schema = freshSchema();
    const storage = postgres(schema);
    await storage.open();
    await storage.commit({ changes: [stored("t", "a", 1n)], idempotency: [], lastSequence: 1n }, { sync: false });
    // PostgreSQL text cannot hold NUL: the idempotency statement fails after
    // the changes were written in the same transaction.
    const bad = { clientId: "bad\u0000id", clientSequence: 1n, fingerprint: "f", outcome: "accepted" as const, serverSequence: 2n, revision: "r2", committedAtMs: 1 };
    await expect(storage.commit({ changes: [stored("t", "a", 2n), stored("t", "b", 3n)], idempotency: [bad], lastSequence: 3n }, { sync: true })).rejects.toThrow();
    expect((await storage.readChanges("t", 0n, 9n, 10)).map((c) => [c.event.documentId, c.event.serverSequence])).toEqual([["a", 1n]]);
    await storage.close();
    const reopened = postgres(schema);
    expect((await reopened.open()).lastSequence).toBe(1n);
    await reopened.close();
  });

  it("refuses writes once it lost the writer lock, stays off while another session holds it, then regains it by itself", async () => {
    const schema = freshSchema();
    const storage = createPostgresStorage({ connectionString: postgresUrl!, schema, reconnectDelayMs: { first: 20, max: 100 } });
    const events: StorageEvent[] = [];
    storage.watch!((event) => events.push(event));
    await storage.open();
    await storage.commit({ changes: [stored("t", "a", 1n)], idempotency: [], lastSequence: 1n }, { sync: false });
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    try {
      // Kill the lock's session and take the lock in its place, as a second
      // server would: pg_advisory_lock waits until the dying session let go.
      const key = createHash("sha256").update(`pocket-sync:${schema}`).digest().readInt32BE(0) & 0x7fffffff;
      const { rowCount } = await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1::int4::oid AND objsubid = 2 AND granted",
        [key],
      );
      expect(rowCount).toBe(1);
      await admin.query("SELECT pg_advisory_lock($1::int4, $2::int4)", [0x506f636b, key]);
      await expect(storage.commit({ changes: [stored("t", "b", 2n)], idempotency: [], lastSequence: 2n }, { sync: false }))
        .rejects.toThrow(StorageUnavailableError);
      expect(events[0]).toEqual({ kind: "unavailable", reason: expect.stringMatching(/^lost the writer lock on PostgreSQL schema "pocket_test_\w+"/) });
      // It keeps trying, and says who holds the lock.
      await eventually(() => events.some((e) => e.kind === "unavailable" && /in use by another Pocket Sync server \(PostgreSQL backend pid \d+/.test(e.reason)));
      expect(events.some((e) => e.kind === "available")).toBe(false);
      // Meanwhile "the other server" wrote up to sequence 9; reads still work.
      await admin.query(`UPDATE "${schema}".meta SET last_sequence = 9`);
      expect((await storage.readChanges("t", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["a"]);
      await admin.query("SELECT pg_advisory_unlock($1::int4, $2::int4)", [0x506f636b, key]);
    } finally {
      await admin.end();
    }
    // Back, with the sequence as persisted now: the core resumes from it.
    await eventually(() => events.some((e) => e.kind === "available"));
    expect(events.at(-1)).toMatchObject({ kind: "available", meta: { lastSequence: 9n } });
    await storage.commit({ changes: [stored("t", "c", 10n)], idempotency: [], lastSequence: 10n }, { sync: false });
    expect((await storage.readChanges("t", 0n, 10n, 10)).map((c) => c.event.documentId)).toEqual(["a", "c"]);
    await storage.close();
    const successor = postgres(schema); // closing released the lock
    expect((await successor.open()).lastSequence).toBe(10n);
    await successor.close();
  });

  it("reports an unreachable database as unavailable, at open and after", async () => {
    const unreachable = createPostgresStorage({ connectionString: "postgres://pocket:pocket@127.0.0.1:1/pocket", schema: freshSchema() });
    await expect(unreachable.open()).rejects.toThrow(StorageUnavailableError);
    await expect(unreachable.open()).rejects.toThrow(/the PostgreSQL database is unavailable: .*ECONNREFUSED/);
    await unreachable.close();
  });

  it("names its sessions after the schema, so an operator can find them", async () => {
    const schema = freshSchema();
    const storage = postgres(schema);
    await storage.open();
    await storage.readChanges("t", 0n, 1n, 1); // opens a pooled session
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ application_name: string }>(
        "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE $1 ORDER BY 1",
        [`pocket-sync ${schema}%`],
      );
      expect(new Set(rows.map((r) => r.application_name))).toEqual(new Set([`pocket-sync ${schema}`, `pocket-sync ${schema} writer lock`]));
    } finally {
      await admin.end();
    }
    await storage.close();
  });
});
