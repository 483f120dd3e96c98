// Storage: one interface, several backends. LevelDB is the embedded default.
import { Level } from "level";
import { MemoryLevel } from "memory-level";
import { LevelStorage } from "./level.js";
import { PostgresStorage, type PostgresStorageOptions } from "./postgres.js";
import type { Storage } from "./types.js";

export type * from "./types.js";
export { ClientIdAlreadyBound, IdempotencyKeyTaken } from "./types.js";
export { StorageUnavailableError, isStorageUnavailable } from "./errors.js";
export { LevelStorage } from "./level.js";
export { canonicalValue, covers, fieldValue, fieldValues, indexedFields, parseIndexSpecs, specKey, specSetKey } from "./index-values.js";
export { PostgresStorage, type PostgresStorageOptions } from "./postgres.js";

/** LevelDB in `directory`, created if missing. */
export function createLevelStorage(directory: string): Storage {
  return new LevelStorage(new Level<string, string>(directory) as never);
}

/** Memory only: for tests and throwaway demos. */
export function createMemoryStorage(): Storage {
  return new LevelStorage(new MemoryLevel<string, string>() as never);
}

/**
 * PostgreSQL at `url` (postgres://user:password@host:port/database), tables in
 * `schema` (default "pocket"), created or migrated if needed. Any number of
 * servers may share a schema: sequences are assigned in the database and
 * each server hears the others' commits (see postgres.ts). A lost connection
 * or a restarted database is recovered from by itself.
 */
export function createPostgresStorage(options: string | PostgresStorageOptions): Storage {
  return new PostgresStorage(typeof options === "string" ? { connectionString: options } : options);
}
