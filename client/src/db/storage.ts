// Where the database keeps its bytes: any abstract-level store. `level` is
// LevelDB (classic-level) in Node and IndexedDB (browser-level) in browsers,
// chosen by the package's "browser" field, so this file imports no Node module.
import { Level } from "level";
import { MemoryLevel } from "memory-level";

/** The part of the abstract-level API the database uses, with string keys and values. */
export interface LevelLike {
  open(): Promise<void>;
  close(): Promise<void>;
  get(key: string): Promise<string | undefined>;
  /** Several keys in one read (abstract-level has it); without it the database reads them one by one. */
  getMany?(keys: string[]): Promise<Array<string | undefined>>;
  put(key: string, value: string): Promise<void>;
  batch(operations: Array<{ type: "put"; key: string; value: string } | { type: "del"; key: string }>): Promise<void>;
  /** Entries in key order within the range, at most `limit` of them (abstract-level semantics). */
  iterator(options: { gt?: string; gte?: string; lt?: string; limit?: number }): AsyncIterable<[string, string]>;
}

export type StorageOption = "level" | "memory" | LevelLike;

export function openStorage(name: string, storage: StorageOption): LevelLike {
  if (storage === "memory") return new MemoryLevel<string, string>() as unknown as LevelLike;
  if (storage === "level") return new Level<string, string>(name) as unknown as LevelLike;
  return storage;
}
