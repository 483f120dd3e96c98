// Field indexes (IndexEntry, readIndex, setIndexes), run on every storage as
// storage.test.ts is. PostgreSQL joins when POCKET_TEST_POSTGRES_URL is set.
import { MemoryLevel } from "memory-level";
import { afterEach, describe, expect, it } from "vitest";
import { ClientIdAlreadyBound, createLevelStorage, IdempotencyKeyTaken, LevelStorage, StorageUnavailableError } from "./index.js";
import { fieldValues, indexedFields, parseIndexSpecs } from "./index-values.js";
import { commit, freshSchema, postgresStorage as postgres, postgresUrl, record, storageBackends, storageDir, stored, withAdmin } from "./testing.js";
import type { CommitBatch, IndexEntry, IndexQuery, IndexSpec, Storage, StoredChange } from "./types.js";

const backends = storageBackends();

const doc = (fields: Record<string, unknown>) => JSON.stringify(fields);
const put = (collection: string, documentId: string, sequence: bigint, fields: Record<string, unknown> | "deleted") =>
  fields === "deleted" ? stored(collection, documentId, sequence, { deleted: true }) : stored(collection, documentId, sequence, { document: doc(fields) });
const entry = (collection: string, field: string, value: string, sequence: bigint, documentId: string): IndexEntry => ({ collection, field, value, sequence, documentId });

/**
 * What the core writes for a change, as the design says: the new state's
 * value, and the previous state's when it differs (the exit entry).
 */
function entriesFor(specs: readonly IndexSpec[], previous: StoredChange | undefined, next: StoredChange): IndexEntry[] {
  const { collection, documentId, serverSequence, document } = next.event;
  const fields = indexedFields(specs, collection);
  const now = fieldValues(document, fields);
  const before = previous ? fieldValues(previous.event.document, fields) : new Map<string, string>();
  const entries: IndexEntry[] = [];
  for (const field of fields) {
    const value = now.get(field);
    if (value !== undefined) entries.push(entry(collection, field, value, serverSequence, documentId));
    const old = before.get(field);
    if (old !== undefined && old !== value) entries.push(entry(collection, field, old, serverSequence, documentId));
  }
  return entries;
}

/** Commits changes as the core would: one group, reading each document's previous state inside it. */
function commitIndexed(storage: Storage, specs: readonly IndexSpec[], make: (after: bigint) => StoredChange[]) {
  return storage.commitGroup(async (reader, after) => {
    const changes = make(after);
    const previous = await reader.getDocuments(changes.map((c) => ({ collection: c.event.collection, documentId: c.event.documentId })));
    const index = changes.flatMap((c, i) => entriesFor(specs, previous[i], c));
    const batch: CommitBatch = { changes, idempotency: [], index, lastSequence: after + BigInt(changes.length) };
    return { batch, result: undefined };
  }, { sync: false });
}

const read = async (storage: Storage, query: Partial<IndexQuery> & { values: string[] }) =>
  (await storage.readIndex({ collection: "t", field: "f", after: 0n, limit: 100, ...query })).entries.map((e) => `${e.documentId}@${e.sequence}`);

/** The documents whose latest state has `value`, found through the index from the start, resolved to their latest states. */
async function matching(storage: Storage, collection: string, field: string, value: string): Promise<string[]> {
  const { entries } = await storage.readIndex({ collection, field, values: [value], after: 0n, limit: 1_000_000 });
  const latest = await storage.getDocuments(entries.map((e) => ({ collection, documentId: e.documentId })));
  const ids = latest.filter((c) => c && fieldValues(c.event.document, [field]).get(field) === value).map((c) => c!.event.documentId);
  return [...new Set(ids)].sort();
}

describe.each(backends)("%s storage: field indexes", (_name, setup) => {
  it("writes index entries with the batch, and none of a group that fails", async () => {
    const storage = setup().make();
    await storage.open();
    await commit(storage, { changes: [put("t", "a", 1n, { f: "x" })], idempotency: [record(1n)], index: [entry("t", "f", '"x"', 1n, "a")], lastSequence: 1n });
    expect(await read(storage, { values: ['"x"'] })).toEqual(["a@1"]);
    // Refused by a constraint: nothing of the group, its entries included.
    const taken = await commit(storage, { changes: [put("t", "b", 2n, { f: "x" })], idempotency: [record(1n)], index: [entry("t", "f", '"x"', 2n, "b")], lastSequence: 2n }).catch((e: unknown) => e);
    expect(taken).toBeInstanceOf(IdempotencyKeyTaken);
    await commit(storage, { changes: [], idempotency: [], owners: [{ clientId: "c", principal: "alice" }], lastSequence: 1n });
    const bound = await commit(storage, { changes: [put("t", "b", 2n, { f: "x" })], idempotency: [], owners: [{ clientId: "c", principal: "bob" }], index: [entry("t", "f", '"x"', 2n, "b")], lastSequence: 2n }).catch((e: unknown) => e);
    expect(bound).toBeInstanceOf(ClientIdAlreadyBound);
    // Refused by the work, and entries outside the group's range or holding a NUL.
    await expect(storage.commitGroup(async () => { throw new Error("the work failed"); }, { sync: false })).rejects.toThrow("the work failed");
    for (const index of [[entry("t", "f", '"x"', 1n, "b")], [entry("t", "f", '"x"', 3n, "b")], [entry("t", "f\u0000g", '"x"', 2n, "b")], [entry("t", "f", '"\u0000"', 2n, "b")]]) {
      await expect(commit(storage, { changes: [put("t", "b", 2n, { f: "x" })], idempotency: [], index, lastSequence: 2n })).rejects.toThrow(/commit batch/);
    }
    expect(await read(storage, { values: ['"x"'] })).toEqual(["a@1"]);
    expect((await storage.readPosition()).lastSequence).toBe(1n);
    // A batch of index entries alone is a write (a backfill-like group of the core).
    await commit(storage, { changes: [put("t", "b", 2n, { f: "x" })], idempotency: [], index: [entry("t", "f", '"x"', 2n, "b")], lastSequence: 2n });
    expect(await read(storage, { values: ['"x"'] })).toEqual(["a@1", "b@2"]);
    await storage.close();
  });

  it("reads several values merged in sequence order, ties by document id, each change once, within after, upTo and limit", async () => {
    const storage = setup().make();
    await storage.open();
    const index = [
      entry("t", "f", '"x"', 1n, "a"),
      entry("t", "f", '"y"', 2n, "b"),
      entry("t", "f", "7", 3n, "c"),
      entry("t", "f", '"x"', 4n, "d"),
      entry("t", "f", '"y"', 4n, "d"), // d moved from y to x at 4: found under both
      entry("t", "f", '"x"', 5n, "é"),
      entry("t", "f", '"x"', 5n, "e"),
      entry("t", "f", '"y"', 5n, "Z"),
      entry("t", "g", '"x"', 6n, "other-field"),
      entry("u", "f", '"x"', 7n, "other-collection"),
      entry("t", "f", '"x"', 8n, "a"),
    ];
    await commit(storage, { changes: [put("t", "z", 8n, {})], idempotency: [], index, lastSequence: 8n });
    expect(await read(storage, { values: ['"x"', '"y"', "7"] })).toEqual(["a@1", "b@2", "c@3", "d@4", "Z@5", "e@5", "é@5", "a@8"]);
    expect(await read(storage, { values: ['"y"', '"x"', '"y"'] })).toEqual(["a@1", "b@2", "d@4", "Z@5", "e@5", "é@5", "a@8"]);
    expect(await read(storage, { values: ['"x"'], after: 4n })).toEqual(["e@5", "é@5", "a@8"]);
    expect(await read(storage, { values: ['"x"', '"y"'], after: 1n, upTo: 5n })).toEqual(["b@2", "d@4", "Z@5", "e@5", "é@5"]);
    expect(await read(storage, { values: ['"x"', '"y"'], limit: 3 })).toEqual(["a@1", "b@2", "d@4"]);
    // The duplicate does not eat into the limit.
    expect(await read(storage, { values: ['"x"', '"y"'], after: 3n, limit: 2 })).toEqual(["d@4", "Z@5"]);
    expect(await read(storage, { values: ['"nothing"'] })).toEqual([]);
    expect(await read(storage, { values: [] })).toEqual([]);
    expect(await read(storage, { values: ['"x"'], limit: 0 })).toEqual([]);
    expect(await read(storage, { values: ['"x"'], after: 8n })).toEqual([]);
    expect(await read(storage, { values: ['"x"'], upTo: 0n })).toEqual([]);
    expect(await read(storage, { values: ['"x"'], field: "g" })).toEqual(["other-field@6"]);
    expect(await read(storage, { values: ['"x"'], collection: "u" })).toEqual(["other-collection@7"]);
    const page = await storage.readIndex({ collection: "t", field: "f", values: ['"x"'], after: 0n, limit: 1 });
    expect(page.position).toEqual({ lastSequence: 8n, purgedThrough: {} });
    await storage.close();
  });

  it("never reads past the committed position, even when upTo is above it", async () => {
    const storage = setup().make();
    await storage.open();
    await commit(storage, { changes: [put("t", "a", 2n, { f: 1 })], idempotency: [], index: [entry("t", "f", "1", 2n, "a")], lastSequence: 2n });
    const page = await storage.readIndex({ collection: "t", field: "f", values: ["1"], after: 0n, upTo: 99n, limit: 10 });
    expect(page).toEqual({ entries: [{ sequence: 2n, documentId: "a" }], position: { lastSequence: 2n, purgedThrough: {} } });
    await storage.close();
  });

  it("backfills the latest state of every document when an index is added, and deletes the entries of one dropped", async () => {
    const storage = setup().make();
    await storage.open();
    expect(storage.indexes()).toEqual([]);
    await commit(storage, {
      changes: [
        put("t", "a", 1n, { f: "x" }), put("t", "b", 2n, { f: "y" }), put("t", "c", 3n, { f: { nested: "x" } }), put("t", "d", 4n, { g: "x" }),
        put("t", "e", 5n, { f: "x" }), put("u", "a", 6n, { f: "x" }), put("t", "a", 7n, { f: "x", more: 1 }), put("t", "e", 8n, "deleted"),
        put("t", "n", 9n, { f: 1.0 }),
      ],
      idempotency: [],
      lastSequence: 9n,
    });
    expect(await storage.setIndexes(parseIndexSpecs("t.f"))).toEqual({ built: ["t.f"], dropped: [] });
    expect(storage.indexes()).toEqual([{ collection: "t", field: "f", since: 9n }]);
    expect(await read(storage, { values: ['"x"', '"y"', "1"] })).toEqual(["b@2", "a@7", "n@9"]);
    expect(await read(storage, { values: ['"x"'], collection: "u" })).toEqual([]);
    // Again: nothing to do.
    expect(await storage.setIndexes(parseIndexSpecs("t.f"))).toEqual({ built: [], dropped: [] });

    // Every collection's f: u.a too, t's entries stay.
    expect(await storage.setIndexes(parseIndexSpecs("*.f,t.f"))).toEqual({ built: ["*.f"], dropped: [] });
    expect(await read(storage, { values: ['"x"'], collection: "u" })).toEqual(["a@6"]);
    // Dropping t.f while *.f still covers t: t's entries stay.
    expect(await storage.setIndexes(parseIndexSpecs("*.f"))).toEqual({ built: [], dropped: ["t.f"] });
    expect(await read(storage, { values: ['"x"'] })).toEqual(["a@7"]);
    // Dropping *.f for t.f: only t's entries stay.
    expect(await storage.setIndexes(parseIndexSpecs("t.f"))).toEqual({ built: ["t.f"], dropped: ["*.f"] });
    expect(await read(storage, { values: ['"x"'], collection: "u" })).toEqual([]);
    expect(await read(storage, { values: ['"x"'] })).toEqual(["a@7"]);
    // A malformed spec changes nothing.
    for (const bad of [{ collection: "t", field: "a\u0000b" }, { collection: "t t", field: "f" }, { collection: "t", field: "" }]) {
      await expect(storage.setIndexes([{ collection: "u", field: "f" }, bad])).rejects.toThrow(/^index /);
      expect(storage.indexes().map((i) => `${i.collection}.${i.field}`)).toEqual(["t.f"]);
    }
    expect(await storage.setIndexes([])).toEqual({ built: [], dropped: ["t.f"] });
    expect(storage.indexes()).toEqual([]);
    expect(await read(storage, { values: ['"x"', '"y"', "1"] })).toEqual([]);
    await storage.close();
  });

  it("indexes a commit that races the backfill, wherever the backfill stands", async () => {
    const storage = setup().make();
    await storage.open();
    const specs = parseIndexSpecs("t.f");
    const count = 5_000; // several backfill chunks
    const id = (i: number) => `d${String(i).padStart(5, "0")}`;
    await commit(storage, { changes: Array.from({ length: count }, (_, i) => put("t", id(i), BigInt(i + 1), { f: i % 2 ? "odd" : "even" })), idempotency: [], lastSequence: BigInt(count) });
    const building = storage.setIndexes(specs);
    let buildDone = false;
    void building.then(() => (buildDone = true));
    // Move documents at both ends of the key order (backfilled first and
    // last) and in the middle from one value to another, while it runs.
    let raced = 0;
    let rounds = 0;
    for (; rounds < 100 && (rounds < 3 || !buildDone); rounds++) {
      const round = rounds;
      const ids = [id(round), id(count - 1 - round), id(2_500 + round)];
      await commitIndexed(storage, specs, (after) => ids.map((documentId, i) => put("t", documentId, after + BigInt(i + 1), { f: `moved${round}` })));
      if (!buildDone) raced++;
    }
    await building;
    expect(raced).toBeGreaterThan(0);
    const since = storage.indexes()[0]!.since;
    expect(since).toBeGreaterThanOrEqual(BigInt(count));
    const moved = (round: number) => [id(round), id(count - 1 - round), id(2_500 + round)].sort();
    for (let round = 0; round < rounds; round++) expect(await matching(storage, "t", "f", `"moved${round}"`)).toEqual(moved(round));
    const all = Array.from({ length: count }, (_, i) => i);
    const movedIds = new Set(all.flatMap((r) => (r < rounds ? moved(r) : [])));
    expect(await matching(storage, "t", "f", '"even"')).toEqual(all.filter((i) => i % 2 === 0).map(id).filter((d) => !movedIds.has(d)));
    // A reader positioned at `since` learns of every document that left "odd" after it: the exit entries.
    const left = (await storage.readIndex({ collection: "t", field: "f", values: ['"odd"'], after: since, limit: 1_000 })).entries.map((e) => e.documentId);
    const oddMovedAfterSince = [...movedIds].filter((d) => Number(d.slice(1)) % 2 === 1);
    for (const d of oddMovedAfterSince) {
      const [latest] = await storage.getDocuments([{ collection: "t", documentId: d }]);
      if (latest!.event.serverSequence > since) expect(left).toContain(d);
    }
    await storage.close();
  });

  it("purges index entries at or below the watermark except each document's latest, and keeps those above", async () => {
    const storage = setup().make();
    await storage.open();
    const specs = parseIndexSpecs("t.f");
    await storage.setIndexes(specs);
    const step = (documentId: string, fields: Record<string, unknown> | "deleted", at = 1_000) =>
      commitIndexed(storage, specs, (after) => [{ ...put("t", documentId, after + 1n, fields), committedAtMs: at }]);
    await step("a", { f: "x" }); // 1
    await step("t", { f: "x" }); // 2
    await step("a", { f: "y" }); // 3: y@3, exit x@3
    await step("t", "deleted", 10); // 4: exit x@4
    await step("b", { f: "x" }); // 5
    await step("b", { f: "z" }); // 6: z@6, exit x@6
    await commit(storage, { changes: [put("u", "a", 7n, { f: "x" })], idempotency: [], index: [entry("u", "f", '"x"', 7n, "a")], lastSequence: 7n });
    expect(await read(storage, { values: ['"x"', '"y"', '"z"'] })).toEqual(["a@1", "t@2", "a@3", "t@4", "b@5", "b@6"]);
    expect((await storage.purge(100)).purgedThrough).toEqual({ t: 4n });
    // a@1 superseded, t gone: removed. a@3 is a's latest (its y and its exit
    // from x), b's are above the watermark, u has none.
    expect(await read(storage, { values: ['"x"', '"y"', '"z"'] })).toEqual(["a@3", "b@5", "b@6"]);
    expect(await read(storage, { values: ['"x"'] })).toEqual(["a@3", "b@5", "b@6"]);
    expect(await read(storage, { values: ['"x"'], collection: "u" })).toEqual(["a@7"]);
    expect(await matching(storage, "t", "f", '"y"')).toEqual(["a"]);
    expect(await matching(storage, "t", "f", '"z"')).toEqual(["b"]);
    await storage.close();
  });

  it("purges obsolete entries of a large collection through every purge step, keeping each document's latest", async () => {
    const storage = setup().make();
    await storage.open();
    const specs = parseIndexSpecs("t.f");
    await storage.setIndexes(specs);
    const count = 6_000; // above a PostgreSQL purge window
    for (const value of ["a", "b"]) {
      await commitIndexed(storage, specs, (after) => Array.from({ length: count }, (_, i) => put("t", `d${i}`, after + BigInt(i + 1), { f: value })));
    }
    await commitIndexed(storage, specs, (after) => [{ ...put("t", "gone", after + 1n, "deleted"), committedAtMs: 10 }]);
    expect((await storage.purge(100)).purgedThrough).toEqual({ t: BigInt(2 * count + 1) });
    // Only the entries at the latest sequences are left: b, and the exit from a.
    const left = await storage.readIndex({ collection: "t", field: "f", values: ['"a"', '"b"'], after: 0n, limit: 100_000 });
    expect(left.entries).toHaveLength(count);
    expect(left.entries[0]).toEqual({ sequence: BigInt(count + 1), documentId: "d0" });
    const exits = await storage.readIndex({ collection: "t", field: "f", values: ['"a"'], after: 0n, limit: 100_000 });
    expect(exits.entries.every((e) => e.sequence > BigInt(count))).toBe(true);
    expect(await matching(storage, "t", "f", '"b"')).toHaveLength(count);
    await storage.close();
  });

  it("reads one matching document among 5,000 in a single step", async () => {
    const storage = setup().make();
    await storage.open();
    const specs = parseIndexSpecs("t.f");
    await storage.setIndexes(specs);
    for (let start = 0; start < 5_000; start += 1_000) {
      await commitIndexed(storage, specs, (after) => Array.from({ length: 1_000 }, (_, i) => put("t", `d${start + i}`, after + BigInt(i + 1), { f: start + i === 4_321 ? "needle" : "hay" })));
    }
    const page = await storage.readIndex({ collection: "t", field: "f", values: ['"needle"'], after: 0n, limit: 100 });
    expect(page.entries).toEqual([{ sequence: 4_322n, documentId: "d4321" }]);
    expect(page.position.lastSequence).toBe(5_000n);
    await storage.close();
  });
});

/** A memory database counting the keys its iterators yield. */
class CountingLevel extends MemoryLevel<string, string> {
  keysRead = 0;

  constructor() {
    super();
    // abstract-level's private hook: every iterator of every sublevel is one of the root's.
    const self = this as unknown as { _keys: (options: unknown) => Record<string, (...args: unknown[]) => Promise<unknown>> };
    const keys = self._keys.bind(this);
    self._keys = (options) => {
      const iterator = keys(options);
      const count = (name: string, size: (result: unknown) => number) => {
        const original = iterator[name]!.bind(iterator);
        iterator[name] = async (...args) => {
          const result = await original(...args);
          this.keysRead += size(result);
          return result;
        };
      };
      count("_next", (key) => (key === undefined ? 0 : 1));
      count("_nextv", (found) => (found as unknown[]).length);
      count("_all", (found) => (found as unknown[]).length);
      return iterator;
    };
  }
}

describe("level storage: field index cost", () => {
  it("reads the entries it returns, not the collection: 1 of 5,000, and 3 pages of 2 among 3 values", async () => {
    const db = new CountingLevel();
    const storage = new LevelStorage(db as never);
    await storage.open();
    const specs = parseIndexSpecs("t.f");
    await storage.setIndexes(specs);
    const values = (i: number) => (i === 4_321 ? "needle" : i % 1_000 === 7 ? "rare" : i % 1_000 === 8 ? "rarer" : "hay");
    await commitIndexed(storage, specs, (after) => Array.from({ length: 5_000 }, (_, i) => put("t", `d${i}`, after + BigInt(i + 1), { f: values(i) })));
    db.keysRead = 0;
    expect((await storage.readIndex({ collection: "t", field: "f", values: ['"needle"'], after: 0n, limit: 100 })).entries).toHaveLength(1);
    expect(db.keysRead).toBe(1);
    db.keysRead = 0;
    const page = await storage.readIndex({ collection: "t", field: "f", values: ['"needle"', '"rare"', '"rarer"'], after: 0n, limit: 2 });
    expect(page.entries.map((e) => e.documentId)).toEqual(["d7", "d8"]);
    // Each value's range yields at most `limit` keys.
    expect(db.keysRead).toBeLessThanOrEqual(6);
    await storage.close();
  });
});

describe("level storage on disk: field indexes", () => {
  it("keeps the index set and its entries across a reopen", async () => {
    const dir = storageDir();
    const first = createLevelStorage(dir);
    await first.open();
    await commit(first, { changes: [put("t", "a", 1n, { f: "x" })], idempotency: [], lastSequence: 1n });
    await first.setIndexes(parseIndexSpecs("t.f,*.g"));
    await first.close();
    const second = createLevelStorage(dir);
    await second.open();
    expect(second.indexes()).toEqual([{ collection: "t", field: "f", since: 1n }, { collection: "*", field: "g", since: 1n }]);
    expect(await second.setIndexes(parseIndexSpecs("*.g,t.f"))).toEqual({ built: [], dropped: [] });
    expect(await read(second, { values: ['"x"'] })).toEqual(["a@1"]);
    await second.close();
  });
});

describe.runIf(postgresUrl)("postgres storage: field indexes of several servers on one schema", () => {
  const opened: Storage[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((storage) => storage.close()));
  });
  const open = async (schema: string) => {
    const storage = postgres(schema);
    opened.push(storage);
    await storage.open();
    return storage;
  };

  it("fails the commit groups and index reads of a server whose index set is not the database's, naming both sets", async () => {
    const schema = freshSchema();
    const a = await open(schema);
    const b = await open(schema);
    await a.setIndexes(parseIndexSpecs("t.f"));
    await b.setIndexes(parseIndexSpecs("t.f"));
    const specs = parseIndexSpecs("t.f");
    await commitIndexed(a, specs, (after) => [put("t", "x", after + 1n, { f: 1 })]);
    await commitIndexed(b, specs, (after) => [put("t", "y", after + 1n, { f: 1 })]);
    // b restarted with another --index.
    await b.close();
    const b2 = await open(schema);
    expect(await b2.setIndexes(parseIndexSpecs("t.f,*.g"))).toEqual({ built: ["*.g"], dropped: [] });
    const refused = await commitIndexed(a, specs, (after) => [put("t", "z", after + 1n, { f: 1 })]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StorageUnavailableError);
    expect((refused as Error).message).toMatch(/indexes \[\*\.g, t\.f\] \(another server was started with that --index\) but this server indexes \[t\.f\]: restart this server with the same --index/);
    await expect(a.readIndex({ collection: "t", field: "f", values: ["1"], after: 0n, limit: 10 })).rejects.toBeInstanceOf(StorageUnavailableError);
    // Nothing of the refused group was written; the other server goes on.
    expect((await b2.getDocuments([{ collection: "t", documentId: "z" }]))[0]).toBeUndefined();
    await commitIndexed(b2, parseIndexSpecs("t.f,*.g"), (after) => [put("t", "z", after + 1n, { f: 1, g: 2 })]);
    expect(await read(b2, { values: ["1"] })).toEqual(["x@1", "y@2", "z@3"]);
    // a restarted the same way: both write again.
    await a.close();
    const a2 = await open(schema);
    expect(await a2.setIndexes(parseIndexSpecs("*.g,t.f"))).toEqual({ built: [], dropped: [] });
    expect(a2.indexes().map((i) => `${i.collection}.${i.field}`).sort()).toEqual(["*.g", "t.f"]);
    await commitIndexed(a2, parseIndexSpecs("t.f,*.g"), (after) => [put("t", "w", after + 1n, { g: 2 })]);
    expect(await read(b2, { values: ["2"], field: "g" })).toEqual(["z@3", "w@4"]);
  });

  it("names a set with quotes and backslashes in its fields exactly, so commits go through", async () => {
    const schema = freshSchema();
    const storage = await open(schema);
    const specs: IndexSpec[] = [{ collection: "t", field: "it's \\ a \"field\"" }, { collection: "t", field: "$fn$" }];
    await storage.setIndexes(specs);
    await commitIndexed(storage, specs, (after) => [put("t", "a", after + 1n, { "it's \\ a \"field\"": 1, $fn$: 2 })]);
    expect(await read(storage, { values: ["1"], field: "it's \\ a \"field\"" })).toEqual(["a@1"]);
    expect(await read(storage, { values: ["2"], field: "$fn$" })).toEqual(["a@1"]);
  });

  it("builds an index once when two servers start with it together, and keeps the set across a reopen", async () => {
    const schema = freshSchema();
    const first = await open(schema);
    await commit(first, { changes: Array.from({ length: 1_200 }, (_, i) => put("t", `d${i}`, BigInt(i + 1), { f: i % 3 })), idempotency: [], lastSequence: 1_200n });
    const second = await open(schema);
    const results = await Promise.all([first.setIndexes(parseIndexSpecs("t.f")), second.setIndexes(parseIndexSpecs("t.f"))]);
    expect(results.flatMap((r) => r.built).length).toBeGreaterThanOrEqual(1);
    expect(await matching(first, "t", "f", "0")).toHaveLength(400);
    await first.close();
    const reopened = await open(schema);
    expect(reopened.indexes()).toEqual([{ collection: "t", field: "f", since: 1_200n }]);
    expect(await reopened.setIndexes(parseIndexSpecs("t.f"))).toEqual({ built: [], dropped: [] });
  });

  it("migrates a schema from before field indexes (format 2) and keeps its data", async () => {
    const schema = freshSchema();
    const first = await open(schema);
    await commit(first, { changes: [put("t", "a", 1n, { f: "x" })], idempotency: [], lastSequence: 1n });
    await first.close();
    await withAdmin(async (admin) => {
      await admin.query(`DROP TABLE "${schema}".index_entries`);
      await admin.query(`ALTER TABLE "${schema}".meta DROP COLUMN index_set, DROP COLUMN indexes`);
      await admin.query(`UPDATE "${schema}".meta SET format = 2`);
    });
    const [second, third] = await Promise.all([open(schema), open(schema)]);
    expect(second.indexes()).toEqual([]);
    const format = await withAdmin((admin) => admin.query(`SELECT format, index_set FROM "${schema}".meta`));
    expect(format.rows[0]).toEqual({ format: 3, index_set: "[]" });
    // What a server of format 2 still running writes: no index set named.
    const oldServerCommits = (sequence: number) =>
      withAdmin((admin) =>
        admin.query(`INSERT INTO "${schema}".changes (collection, server_sequence, document_id, event, committed_at_ms, deleted) VALUES ('t', $1, $2, '\\x', 1, false)`, [sequence, `old${sequence}`]),
      );
    await oldServerCommits(100); // no indexes yet: nothing to miss
    // Servers of this version commit beside it until one indexes.
    await commit(third!, { changes: [put("t", "b", 101n, { f: "x" })], idempotency: [], lastSequence: 101n });
    expect(await second!.setIndexes(parseIndexSpecs("t.f"))).toEqual({ built: ["t.f"], dropped: [] });
    expect(await read(second!, { values: ['"x"'] })).toEqual(["a@1", "b@101"]);
    // Then the old one's commits are refused whole, instead of leaving the index incomplete.
    await expect(oldServerCommits(102)).rejects.toThrow(/does not write the entries of the field indexes .* same version and --index/);
    await expect(oldServerCommits(102)).rejects.toMatchObject({ code: "PS001" });
    await withAdmin(async (admin) => expect((await admin.query(`SELECT count(*)::int AS n FROM "${schema}".changes WHERE server_sequence = 102`)).rows[0].n).toBe(0));
    // The third server, still on the set it opened with, is told to restart.
    await expect(commit(third!, { changes: [put("t", "c", 103n, { f: "x" })], idempotency: [], lastSequence: 103n })).rejects.toThrow(/restart this server with the same --index/);
  });
});
