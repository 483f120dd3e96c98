// The `collections` option: what is refused at createSyncEngine, and the wire
// collections and filters the rest becomes (PROTOCOL §4.8, §4.10, §14).
import { toJson } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FilterSchema } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createSyncEngine } from "./engine.js";
import { resolveScope } from "./scope.js";
import type { SyncCollection } from "./types.js";

const wire = (option: readonly SyncCollection[] | undefined) => {
  const scope = resolveScope(option);
  return { collections: scope.collections, filters: Object.fromEntries(Object.entries(scope.filters).map(([c, f]) => [c, toJson(FilterSchema, f)])) };
};

describe("the collections option", () => {
  it("omitted or empty: every readable collection, no filter (§4.8)", () => {
    expect(wire(undefined)).toEqual({ collections: [], filters: {} });
    expect(wire([])).toEqual({ collections: [], filters: {} });
  });

  it('"*": every readable collection, with the filtered entries beside it filtered (§4.8, §4.10)', () => {
    expect(wire(["*"])).toEqual({ collections: [], filters: {} });
    expect(wire(["*", { name: "todos", filter: { listId: "42" } }, "*"])).toEqual({
      collections: [],
      filters: { todos: { conditions: [{ field: "listId", values: ['"42"'] }] } },
    });
    expect(wire([{ name: "todos", filter: { listId: "42" } }, { name: "notes", filter: { ownerId: "me" } }, { name: "*" }]).collections).toEqual([]);
  });

  it("takes a plain name listed twice as once, as the seed's engine did", () => {
    expect(resolveScope(["todos", "notes", "todos"])).toEqual({ collections: ["todos", "notes"], filters: {} });
  });

  it("names stay names, in order, unfiltered", () => {
    expect(wire(["todos", "notes"])).toEqual({ collections: ["todos", "notes"], filters: {} });
    expect(wire([{ name: "todos" }])).toEqual({ collections: ["todos"], filters: {} });
  });

  it("a scalar is equality, an array is in, several fields are AND; values are JSON text", () => {
    expect(wire(["notes", { name: "todos", filter: { listId: ["42", "43"], done: false, rank: 1.5, owner: null } }])).toEqual({
      collections: ["notes", "todos"],
      filters: {
        todos: {
          conditions: [
            { field: "listId", values: ['"42"', '"43"'] },
            { field: "done", values: ["false"] },
            { field: "rank", values: ["1.5"] },
            { field: "owner", values: ["null"] },
          ],
        },
      },
    });
  });

  it("keeps a string and a number apart, and sends a repeated value once", () => {
    expect(wire([{ name: "todos", filter: { listId: ["42", 42, "42"] } }]).filters.todos).toEqual({ conditions: [{ field: "listId", values: ['"42"', "42"] }] });
  });

  it("escapes strings as JSON does", () => {
    expect(wire([{ name: "t", filter: { title: 'say "hi"\n' } }]).filters.t).toEqual({ conditions: [{ field: "title", values: ['"say \\"hi\\"\\n"'] }] });
  });

  const refused: [string, unknown, RegExp][] = [
    ["not an array", "todos", /collections: must be an array/],
    ["a number entry", [1], /collections\[0\]: must be a collection name or a \{ name, filter \} entry/],
    ["a null entry", [null], /collections\[0\]: must be a collection name/],
    ["an array entry", [["todos"]], /collections\[0\]: must be a collection name/],
    ["a bad name", ["todos", "1st"], /collections\[1\]: invalid collection name "1st"/],
    ["a name too long", ["a".repeat(65)], /invalid collection name/],
    ["an entry without a name", [{ filter: { a: 1 } }], /collections\[0\]: invalid collection name undefined/],
    ["a misspelt key", [{ name: "todos", filters: { a: 1 } }], /collections\[0\]: unknown key "filters"/],
    ["a duplicate, once filtered", ["todos", { name: "todos", filter: { a: 1 } }], /listed twice/],
    ["more than 64 collections", Array.from({ length: 65 }, (_, i) => `c${i}`), /at most 64 collections/],
    ['a plain name beside "*"', ["*", "todos"], /collections\[1\]: "todos" is already synced by "\*"; beside it, list only collections with a filter/],
    ['a plain name before "*"', [{ name: "todos" }, "*"], /collections\[0\]: "todos" is already synced by "\*"/],
    ['"*" with a filter', [{ name: "*", filter: { a: 1 } }], /collections\[0\]: "\*" takes no filter/],
    ["an empty filter", [{ name: "todos", filter: {} }], /collections\[0\]\.filter: must have at least one field/],
    ["a filter that is an array", [{ name: "todos", filter: [["a", 1]] }], /collections\[0\]\.filter: must be an object/],
    ["a filter that is null", [{ name: "todos", filter: null }], /collections\[0\]\.filter: must be an object/],
    ["an object value", [{ name: "todos", filter: { list: { id: 1 } } }], /filter\.list: an object cannot be matched/],
    ["an array of objects", [{ name: "todos", filter: { list: [{ id: 1 }] } }], /filter\.list\[0\]: an object cannot be matched/],
    ["a nested array", [{ name: "todos", filter: { list: [["a"]] } }], /filter\.list\[0\]: a nested array cannot be matched/],
    ["an empty in list", [{ name: "todos", filter: { list: [] } }], /filter\.list: an empty list matches nothing/],
    ["undefined", [{ name: "todos", filter: { list: undefined } }], /filter\.list: undefined cannot be matched/],
    ["NaN", [{ name: "todos", filter: { n: NaN } }], /filter\.n: NaN cannot be matched/],
    ["Infinity in a list", [{ name: "todos", filter: { n: [1, Infinity] } }], /filter\.n\[1\]: Infinity cannot be matched/],
    ["a bigint", [{ name: "todos", filter: { n: 1n } }], /filter\.n: bigint cannot be matched/],
    ["a Date", [{ name: "todos", filter: { at: new Date(0) } }], /filter\.at: an object cannot be matched/],
    ["a reserved key", [{ name: "todos", filter: { _id: "a" } }], /filter\._id: _id is local metadata/],
    ["an empty field name", [{ name: "todos", filter: { "": 1 } }], /a field name has 1 to 128 characters/],
    ["a field name too long", [{ name: "todos", filter: { ["f".repeat(129)]: 1 } }], /a field name has 1 to 128 characters/],
    ["more than 8 fields", [{ name: "todos", filter: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`f${i}`, i])) }], /at most 8 fields/],
    ["more than 100 values", [{ name: "todos", filter: { n: Array.from({ length: 101 }, (_, i) => i) } }], /at most 100 values/],
    ["a value longer than 1024 characters as JSON", [{ name: "todos", filter: { s: "x".repeat(1023) } }], /1025 characters as JSON, at most 1024/],
  ];
  it.each(refused)("refuses %s with a TypeError naming it, at createSyncEngine", (_, option, message) => {
    expect(() => resolveScope(option as SyncCollection[])).toThrow(TypeError);
    expect(() => resolveScope(option as SyncCollection[])).toThrow(message);
    const store = { syncStore: {} } as never;
    expect(() => createSyncEngine(store, { serverUrl: "http://x", collections: option as SyncCollection[] })).toThrow(message);
  });

  it("takes values up to the limits", () => {
    expect(() => resolveScope([{ name: "todos", filter: { s: "x".repeat(1022), n: Array.from({ length: 100 }, (_, i) => i) } }])).not.toThrow();
    // Characters, not UTF-16 units: 1022 astral characters and two quotes are 1024.
    expect(() => resolveScope([{ name: "todos", filter: { s: "😀".repeat(1022) } }])).not.toThrow();
    expect(() => resolveScope(Array.from({ length: 64 }, (_, i) => ({ name: `c${i}`, filter: { a: 1 } })))).not.toThrow();
  });
});
