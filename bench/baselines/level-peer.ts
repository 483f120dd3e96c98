// Role: raw LevelDB (classic-level through `level`, the very package and
// version the server uses) writing and reading the same entries the server
// writes per change, in batches, and iterating them in pages. The entries'
// count, key sizes and value bytes come from a probe of a real server's data
// directory (probeLayout), so the baseline follows the server's layout as it
// changes instead of a copy of it.
import { Level } from "level";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nowMs } from "../harness/clock.js";

/** Entries that share a sublevel prefix ("!c!" for sublevel "c"). */
export interface EntryGroup {
  readonly prefix: string;
  /** Entries per change (groups with fewer entries than changes are written once per commit). */
  readonly perChange: number;
  readonly entries: number;
  readonly keyBytes: number;
  readonly valueBytes: number;
  /** Real values from the probe, reused in turn so the bytes compress like the server's. */
  readonly samples: Uint8Array[];
}

export interface Layout {
  readonly changes: number;
  readonly perChange: EntryGroup[];
  readonly perCommit: EntryGroup[];
  /** The group a pull reads: the per-change group with the largest values (the changes themselves). */
  readonly readPrefix: string;
  readonly bytesPerChange: number;
}

type Db = Level<string, Uint8Array>;
let db: Db | undefined;
let dir: string | undefined;
let written = 0;

function prefixOf(key: string): string {
  if (!key.startsWith("!")) return "";
  const end = key.indexOf("!", 1);
  return end < 0 ? "" : key.slice(0, end + 1);
}

/** The first key after every key with this prefix. */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

function keyFor(group: EntryGroup, counter: number): string {
  const digits = String(counter);
  return group.prefix + digits.padStart(Math.max(digits.length, group.keyBytes - group.prefix.length), "0");
}

function open(): Db {
  if (!db) throw new Error("call open first");
  return db;
}

export const handlers = {
  /** Reads a stopped server's LevelDB directory after `changes` changes in `commits` commits. */
  async probe(levelDir: string, changes: number): Promise<Layout> {
    const source = new Level<string, Uint8Array>(levelDir, { keyEncoding: "utf8", valueEncoding: "view" });
    await source.open();
    const groups = new Map<string, { entries: number; keyBytes: number; valueBytes: number; samples: Uint8Array[] }>();
    for await (const [key, value] of source.iterator()) {
      const prefix = prefixOf(key);
      const group = groups.get(prefix) ?? { entries: 0, keyBytes: 0, valueBytes: 0, samples: [] };
      group.entries++;
      group.keyBytes += Buffer.byteLength(key);
      group.valueBytes += value.byteLength;
      if (group.samples.length < 256) group.samples.push(Uint8Array.from(value));
      groups.set(prefix, group);
    }
    await source.close();
    const all = [...groups.entries()].map(([prefix, g]) => ({
      prefix,
      perChange: g.entries / changes,
      entries: g.entries,
      keyBytes: Math.round(g.keyBytes / g.entries),
      valueBytes: Math.round(g.valueBytes / g.entries),
      samples: g.samples,
    }));
    const perChange = all.filter((g) => g.entries >= changes / 2);
    const perCommit = all.filter((g) => g.entries < changes / 2);
    const read = [...perChange].sort((a, b) => b.valueBytes - a.valueBytes)[0];
    if (!read) throw new Error(`the probe found no entry group with one entry per change (${JSON.stringify(all.map((g) => [g.prefix, g.entries]))})`);
    return {
      changes,
      perChange,
      perCommit,
      readPrefix: read.prefix,
      bytesPerChange: perChange.reduce((sum, g) => sum + g.perChange * (g.keyBytes + g.valueBytes), 0),
    };
  },

  /** A fresh database in a temp directory. */
  async open(): Promise<void> {
    await handlers.close();
    dir = mkdtempSync(join(tmpdir(), "pocket-bench-level-"));
    db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
    await db.open();
    written = 0;
  },

  /**
   * Writes `changes` changes' worth of entries in batches of `batch` changes,
   * one db.batch per batch, without sync (the server's "process" durability).
   */
  async write(layout: Layout, changes: number, batch: number, sync = false): Promise<{ ms: number; entries: number }> {
    const target = open();
    // Build every batch first: the clock measures LevelDB, not our loops.
    const batches: Array<Array<{ type: "put"; key: string; value: Uint8Array }>> = [];
    let entries = 0;
    for (let start = 0; start < changes; start += batch) {
      const ops: Array<{ type: "put"; key: string; value: Uint8Array }> = [];
      const end = Math.min(changes, start + batch);
      for (let i = written + start; i < written + end; i++) {
        for (const group of layout.perChange) {
          const count = Math.floor((i + 1) * group.perChange) - Math.floor(i * group.perChange);
          for (let e = 0; e < count; e++) {
            ops.push({ type: "put", key: keyFor(group, Math.floor(i * group.perChange) + e), value: group.samples[i % group.samples.length]! });
          }
        }
      }
      for (const group of layout.perCommit) ops.push({ type: "put", key: `${group.prefix}commit`, value: group.samples[0]! });
      entries += ops.length;
      batches.push(ops);
    }
    const start = nowMs();
    for (const ops of batches) await target.batch(ops, { sync });
    const ms = nowMs() - start;
    written += changes;
    return { ms, entries };
  },

  /**
   * Reads `count` entries of the layout's read group in pages of `page`, one
   * iterator per page from the last key read, as a stateless paged pull must.
   */
  async iterate(layout: Layout, count: number, page: number): Promise<{ ms: number; entries: number; bytes: number }> {
    const source = open();
    const end = prefixEnd(layout.readPrefix);
    let after = layout.readPrefix;
    let entries = 0;
    let bytes = 0;
    const start = nowMs();
    while (entries < count) {
      const iterator = source.iterator({ gt: after, lt: end, limit: Math.min(page, count - entries) });
      const rows = await iterator.nextv(page);
      await iterator.close();
      if (rows.length === 0) break;
      for (const [, value] of rows) bytes += value.byteLength;
      entries += rows.length;
      after = rows[rows.length - 1]![0];
    }
    return { ms: nowMs() - start, entries, bytes };
  },

  async close(): Promise<void> {
    if (db) await db.close();
    db = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  },
};
