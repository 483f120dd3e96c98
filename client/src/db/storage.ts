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
  iterator(options: RangeOptions): AsyncIterable<[string, string]> & Partial<BatchIterator>;
}

export interface RangeOptions {
  gt?: string;
  gte?: string;
  lt?: string;
  limit?: number;
}

/** What abstract-level iterators add: several entries per call. */
interface BatchIterator {
  /** At most `size` entries; an empty array at the end. */
  nextv(size: number): Promise<Array<[string, string]>>;
  close(): Promise<void>;
}

/**
 * The first `limit` entries of a range, with as few reads as the store
 * allows: abstract-level's nextv takes them in one call where for-await takes
 * one for the first entry and another for the rest. Also right on a store
 * that ignores `gt` or `limit`.
 */
export async function readRange(level: LevelLike, range: RangeOptions & { limit: number }): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  const wanted = (key: string) => range.gt === undefined || key > range.gt;
  const iterator = level.iterator(range);
  if (typeof iterator.nextv === "function" && typeof iterator.close === "function") {
    try {
      while (out.length < range.limit) {
        const entries = await iterator.nextv(range.limit - out.length);
        if (entries.length === 0) break;
        for (const entry of entries) if (out.length < range.limit && wanted(entry[0])) out.push(entry);
      }
    } finally {
      await iterator.close();
    }
    return out;
  }
  for await (const entry of iterator) {
    if (out.length === range.limit) break;
    if (wanted(entry[0])) out.push(entry);
  }
  return out;
}

export type StorageOption = "level" | "memory" | LevelLike;

export function openStorage(name: string, storage: StorageOption): LevelLike {
  if (storage === "memory") return new MemoryLevel<string, string>() as unknown as LevelLike;
  if (storage === "level") return new Level<string, string>(name) as unknown as LevelLike;
  return storage;
}
