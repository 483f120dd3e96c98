import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ChangeEventSchema, ErrorReason, FilterSchema, type Filter } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { compileFilters, digestsAfter, filterChanged } from "./filter.js";
import { SyncFailure } from "./failures.js";

const INDEXES = [{ collection: "*", field: "list" }, { collection: "todos", field: "tag" }];
const filter = (...conditions: Array<[string, string[]]>): Filter => create(FilterSchema, { conditions: conditions.map(([field, values]) => ({ field, values })) });
const doc = (document: object | null) =>
  create(ChangeEventSchema, { collection: "todos", documentId: "d", document: document ? JSON.stringify(document) : "", deleted: document === null });

function refusal(run: () => unknown): SyncFailure {
  try {
    run();
  } catch (error) {
    if (error instanceof SyncFailure) return error;
    throw error;
  }
  throw new Error("not refused");
}

describe("compileFilters", () => {
  it("matches equality, in and AND on top-level fields by JSON value, a tombstone never", () => {
    const f = compileFilters({ todos: filter(["list", ['"a"', '"b"']], ["tag", ["1"]]) }, ["todos"], INDEXES).get("todos")!;
    expect(f.matches(doc({ list: "a", tag: 1 }))).toBe(true);
    expect(f.matches(doc({ list: "b", tag: 1.0, other: [1] }))).toBe(true);
    expect(f.matches(doc({ list: "a", tag: "1" }))).toBe(false);
    expect(f.matches(doc({ list: "c", tag: 1 }))).toBe(false);
    expect(f.matches(doc({ tag: 1 }))).toBe(false);
    expect(f.matches(doc({ list: { a: 1 }, tag: 1 }))).toBe(false);
    expect(f.matches(doc(null))).toBe(false);
    const nulls = compileFilters({ todos: filter(["list", ["null"]]) }, [], INDEXES).get("todos")!;
    expect(nulls.matches(doc({ list: null }))).toBe(true);
    expect(nulls.matches(doc({}))).toBe(false);
  });

  it("gives one digest to one filter however it is written, another to any other", () => {
    const digest = (f: Filter) => compileFilters({ todos: f }, ["todos"], INDEXES).get("todos")!.digest;
    const base = digest(filter(["list", ['"a"', '"b"']], ["tag", ["1"]]));
    expect(digest(filter(["tag", ["1.0", "1"]], ["list", ['"b"', '"a"', '"a"']]))).toBe(base);
    expect(digest(filter(["list", ['"a"']], ["tag", ["1"]]))).not.toBe(base);
    expect(digest(filter(["list", ['"a"', '"b"']], ["tag", ['"1"']]))).not.toBe(base);
    expect(digest(filter(["list", ['"a"', '"b"']]))).not.toBe(base);
  });

  it("drives the read by the indexed condition with the fewest values", () => {
    const f = compileFilters({ todos: filter(["list", ['"a"', '"b"', '"c"']], ["tag", ["1"]], ["done", ["false"]]) }, ["todos"], INDEXES).get("todos")!;
    expect(f.driver.field).toBe("tag");
    const notes = compileFilters({ notes: filter(["list", ['"a"', '"b"']], ["tag", ["1"]]) }, [], INDEXES).get("notes")!;
    expect(notes.driver.field).toBe("list"); // tag is indexed in todos only
  });

  it("refuses a value that is no JSON scalar, two conditions on one field and a collection not read, naming each path", () => {
    for (const bad of ["{}", "[1]", "abc", '"open', "", "1 2", "NaN"]) {
      const error = refusal(() => compileFilters({ todos: filter(["list", ['"ok"', bad]]) }, ["todos"], INDEXES));
      expect(error.code, bad).toBe("invalid_argument");
      expect(error.fields.map((f) => f.field)).toEqual(['filters["todos"].conditions[0].values[1]']);
    }
    const twice = refusal(() => compileFilters({ todos: filter(["list", ['"a"']], ["list", ['"b"']]) }, ["todos"], INDEXES));
    expect(twice.fields.map((f) => f.field)).toEqual(['filters["todos"].conditions[1].field']);
    const elsewhere = refusal(() => compileFilters({ notes: filter(["list", ['"a"']]) }, ["todos"], INDEXES));
    expect(elsewhere.fields.map((f) => f.field)).toEqual(['filters["notes"]']);
    const empty = refusal(() => compileFilters({ todos: create(FilterSchema, {}) }, ["todos"], INDEXES));
    expect(empty.code).toBe("invalid_argument");
  });

  it("refuses a filter no index answers with FILTER_NOT_INDEXED naming the collection", () => {
    const error = refusal(() => compileFilters({ notes: filter(["tag", ["1"]]) }, ["notes"], INDEXES));
    expect(error.code).toBe("failed_precondition");
    expect(error.reason).toBe(ErrorReason.FILTER_NOT_INDEXED);
    expect(error.metadata).toEqual({ collection: "notes" });
  });
});

describe("checkpoint digests", () => {
  it("finds the collections whose position was read under another filter, and records the new ones", () => {
    const filters = compileFilters({ todos: filter(["list", ['"a"']]) }, [], INDEXES);
    const digest = filters.get("todos")!.digest;
    expect(filterChanged(["todos", "notes"], { todos: 5n, notes: 5n }, { todos: digest }, filters)).toEqual([]);
    expect(filterChanged(["todos", "notes"], { todos: 5n, notes: 5n }, { todos: "other", notes: digest }, filters)).toEqual(["todos", "notes"]);
    expect(filterChanged(["todos"], { todos: 0n }, { todos: "other" }, filters)).toEqual([]);
    expect(digestsAfter({ notes: "x", gone: "y" }, ["todos", "notes"], filters)).toEqual({ todos: digest, gone: "y" });
  });
});
