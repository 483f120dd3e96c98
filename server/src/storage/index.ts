// Storage: one interface, several backends. LevelDB is the embedded default.
import { Level } from "level";
import { MemoryLevel } from "memory-level";
import { LevelStorage } from "./level.js";
import { PostgresStorage, type PostgresStorageOptions } from "./postgres.js";
import type { Storage } from "./types.js";

export type * from "./types.js";
export { ClientIdAlreadyBound } from "./types.js";
export { StorageUnavailableError, isStorageUnavailable } from "./errors.js";
export { LevelStorage } from "./level.js";
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
 * `schema` (default "pocket"), created if missing. One server per schema: a
 * second one fails to open while the first runs. A lost connection or a
 * restarted database is recovered from by itself (see postgres.ts).
 */
export function createPostgresStorage(options: string | PostgresStorageOptions): Storage {
  return new PostgresStorage(typeof options === "string" ? { connectionString: options } : options);
}
