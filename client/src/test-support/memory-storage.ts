// Test support (not part of the client's API): a memory store that counts the
// database's reads and writes and lets a test hold or fail a write.
import { MemoryLevel } from "memory-level";
import type { LevelLike } from "../db/storage.js";

export type BatchOps = Parameters<LevelLike["batch"]>[0];

export interface MemoryStorageOptions {
  /** Runs before each write reaches the store: throw to fail it, await to hold it. */
  readonly beforeBatch?: (ops: BatchOps) => void | Promise<void>;
}

export function memoryStorage(options: MemoryStorageOptions = {}) {
  const level = new MemoryLevel<string, string>() as unknown as Required<LevelLike>;
  const io = { batches: 0, gets: 0, getManys: 0 };
  const storage: LevelLike = {
    open: () => level.open(),
    close: () => level.close(),
    get: (key) => {
      io.gets++;
      return level.get(key);
    },
    getMany: (keys) => {
      io.getManys++;
      return level.getMany(keys);
    },
    put: (key, value) => level.put(key, value),
    iterator: (range) => level.iterator(range),
    async batch(ops) {
      io.batches++;
      await options.beforeBatch?.(ops);
      return level.batch(ops);
    },
  };
  return { storage, io };
}

/** A write that stores a pulled page (it carries the checkpoint). */
export const isPulledPage = (ops: BatchOps) => ops.some((op) => op.key === "m/checkpoint");
