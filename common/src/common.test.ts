import { describe, expect, it } from "vitest";
import { builtInResolvers, compareTimestamps, HybridLogicalClock, jsonEqual, mergeDocuments, parseDocument, type Conflict } from "./index.js";

describe("HybridLogicalClock", () => {
  it("moves forward even when the wall clock stands still or goes back", () => {
    let wall = 1000;
    const clock = new HybridLogicalClock(() => wall);
    const a = clock.now();
    const b = clock.now();
    wall = 500;
    const c = clock.now();
    expect(compareTimestamps(a, "x", b, "x")).toBeLessThan(0);
    expect(compareTimestamps(b, "x", c, "x")).toBeLessThan(0);
    expect(c.wallTimeMs).toBe(1000n);
  });

  it("orders a local event after every remote event it has observed, whatever the clocks say", () => {
    const behind = new HybridLogicalClock(() => 10);
    behind.observe({ wallTimeMs: 99_999n, logical: 4 });
    expect(behind.now()).toEqual({ wallTimeMs: 99_999n, logical: 5 });
  });

  it("breaks ties by client id", () => {
    const t = { wallTimeMs: 1n, logical: 0 };
    expect(compareTimestamps(t, "a", t, "b")).toBe(-1);
    expect(compareTimestamps(t, "b", t, "b")).toBe(0);
  });
});

describe("documents", () => {
  it("accepts JSON objects only, without reserved keys", () => {
    expect(parseDocument('{"a":[1,{"b":null}]}')).toEqual({ ok: true, value: { a: [1, { b: null }] } });
    expect(parseDocument("[1]")).toMatchObject({ ok: false, problem: { kind: "not-object" } });
    expect(parseDocument("nope")).toMatchObject({ ok: false, problem: { kind: "not-json" } });
    expect(parseDocument('{"_rev":"1"}')).toMatchObject({ ok: false, problem: { kind: "reserved-key" } });
  });

  it("compares JSON structurally, ignoring key order", () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
  });
});

const at = (wall: number) => ({ wallTimeMs: BigInt(wall), logical: 0 });
function conflict(client: object | null, clientWall: number, server: object | null, serverWall: number, base?: object | null): Conflict {
  return {
    collection: "todos",
    documentId: "d",
    client: { document: client as never, timestamp: at(clientWall), clientId: "c" },
    server: { document: server as never, timestamp: at(serverWall), clientId: "s" },
    base: base as never,
  };
}

describe("conflict strategies", () => {
  it("last-write-wins picks the later timestamp", () => {
    expect(builtInResolvers["last-write-wins"](conflict({ v: 1 }, 2, { v: 2 }, 1))).toEqual({ winner: "client" });
    expect(builtInResolvers["last-write-wins"](conflict({ v: 1 }, 1, { v: 2 }, 2))).toEqual({ winner: "server" });
  });

  it("merges three-way: each side's own edits survive", () => {
    const base = { title: "t", done: false, tags: ["a"] };
    const merged = mergeDocuments(conflict({ title: "t", done: true, tags: ["a"] }, 1, { title: "T", done: false, tags: ["a"], extra: 1 }, 2, base));
    expect(merged).toEqual({ title: "T", done: true, tags: ["a"], extra: 1 });
  });

  it("merges three-way: a key removed on one side stays removed, both-changed keys go to the later write", () => {
    const base = { a: 1, b: 1 };
    expect(mergeDocuments(conflict({ a: 1 }, 1, { a: 1, b: 1 }, 2, base))).toEqual({ a: 1 });
    expect(mergeDocuments(conflict({ a: "client" }, 5, { a: "server" }, 2, { a: 0 }))).toEqual({ a: "client" });
  });

  it("merges two-way without a base: union of keys, later write wins on both-present keys", () => {
    expect(mergeDocuments(conflict({ a: 1, c: 3 }, 1, { a: 2, b: 2 }, 2))).toEqual({ a: 2, b: 2, c: 3 });
  });

  it("lets the later of an edit and a delete win", () => {
    expect(mergeDocuments(conflict(null, 3, { a: 1 }, 2))).toBeNull();
    expect(mergeDocuments(conflict(null, 1, { a: 1 }, 2))).toEqual({ a: 1 });
  });
});
