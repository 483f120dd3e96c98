// Test helpers for storages: every backend the shared suites run on, stored
// changes and records to commit, and fresh PostgreSQL schemas (dropped by
// dropSchemas) when POCKET_TEST_POSTGRES_URL is set.
import { create } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach } from "vitest";
import { ChangeEventSchema, Operation } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createLevelStorage, createMemoryStorage, createPostgresStorage, type PostgresStorageOptions } from "./index.js";
import type { CommitBatch, IdempotencyRecord, Storage, StoredChange } from "./types.js";

export function stored(collection: string, documentId: string, serverSequence: bigint, extra: { deleted?: boolean; at?: number; document?: string } = {}): StoredChange {
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

export const record = (clientSequence: bigint, extra: Partial<IdempotencyRecord> = {}): IdempotencyRecord => ({
  clientId: "c", clientSequence, fingerprint: `f${clientSequence}`, outcome: "accepted", serverSequence: 1n, revision: "r1", committedAtMs: 1, ...extra,
});

/** Commits `batch` as one group; its sequences must follow the storage's last one. */
export function commit(storage: Storage, batch: CommitBatch, options = { sync: false }) {
  return storage.commitGroup(async () => ({ batch, result: undefined }), options);
}

/** The latest changes of one collection in (after, upTo]. */
export async function changesOf(storage: Storage, collection: string, after: bigint, upTo: bigint, limit: number): Promise<StoredChange[]> {
  return (await storage.readPage([[collection, after]], limit, upTo)).changes[0]!;
}

export async function eventually(condition: () => boolean, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const postgresUrl = process.env.POCKET_TEST_POSTGRES_URL;

const schemas: string[] = [];
/** A schema name of its own for one test; dropSchemas() drops them all. */
export function freshSchema(prefix = "pocket_test"): string {
  const schema = `${prefix}_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
  schemas.push(schema);
  return schema;
}

export async function withAdmin<T>(work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end().catch(() => {});
  }
}

/** For afterAll: drops every schema freshSchema() named. */
export async function dropSchemas(): Promise<void> {
  if (!postgresUrl || schemas.length === 0) return;
  await withAdmin(async (admin) => {
    for (const schema of schemas.splice(0)) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });
}

export const postgresStorage = (schema: string, options: Partial<PostgresStorageOptions> = {}): Storage =>
  createPostgresStorage({ connectionString: postgresUrl!, schema, ...options });

/** One data set of a backend: `make()` opens it afresh, as often as asked (memory keeps nothing between two). */
export type Backend = () => { make: () => Storage };

const dirs: string[] = [];
/** A directory of its own for a LevelDB storage; gone after the test, in a file that called storageBackends(). */
export function storageDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "pocket-storage-"));
  dirs.push(dir);
  return dir;
}

/**
 * Every storage a shared suite runs on (PostgreSQL when
 * POCKET_TEST_POSTGRES_URL is set), for describe.each. Call it at the top of
 * the suite's file: the directories and schemas it makes go after each test
 * and after the file.
 */
export function storageBackends(): Array<[name: string, backend: Backend]> {
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  afterAll(dropSchemas);
  const backends: Array<[string, Backend]> = [
    ["memory", () => ({ make: createMemoryStorage })],
    ["level", () => {
      const dir = storageDir();
      return { make: () => createLevelStorage(dir) };
    }],
  ];
  if (postgresUrl) backends.push(["postgres", () => {
    const schema = freshSchema();
    return { make: () => postgresStorage(schema) };
  }]);
  return backends;
}
