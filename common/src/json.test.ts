// JSON walks that cannot overflow the stack, whatever the nesting: a document
// 200,000 levels deep made jsonEqual and JSON.stringify throw
// "Maximum call stack size exceeded" and failed whole pushes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonEqual, nestingExceeds, stringifyJson, type JsonValue } from "./json.js";

const deepArray = (depth: number) => JSON.parse("[".repeat(depth) + "]".repeat(depth)) as JsonValue;
const deepObject = (depth: number, leaf = 1) => JSON.parse('{"a":'.repeat(depth) + String(leaf) + "}".repeat(depth)) as JsonValue;

/** Nesting depth of a parsed value, for checking the text scan (recursive: test inputs are shallow). */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== "object") return 0;
  return 1 + Math.max(0, ...Object.values(value).map(depthOf));
}

describe("jsonEqual", () => {
  it("compares 200,000 levels without overflowing", () => {
    expect(jsonEqual(deepArray(200_000), deepArray(200_000))).toBe(true);
    expect(jsonEqual(deepObject(200_000, 1), deepObject(200_000, 2))).toBe(false);
    expect(jsonEqual(deepArray(200_000), deepArray(199_999))).toBe(false);
  });

  it("is structural equality, ignoring key order", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        expect(jsonEqual(a as JsonValue, JSON.parse(JSON.stringify(a)) as JsonValue)).toBe(true);
        const same = JSON.stringify(a) === JSON.stringify(b);
        if (same) expect(jsonEqual(a as JsonValue, b as JsonValue)).toBe(true);
      }),
      { seed: 10, numRuns: 500 },
    );
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(jsonEqual({ a: undefined } as never, { b: undefined } as never)).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
  });
});

describe("stringifyJson", () => {
  it("writes what JSON.stringify writes", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(stringifyJson(value as JsonValue)).toBe(JSON.stringify(value));
      }),
      { seed: 10, numRuns: 1000 },
    );
    const odd = { u: undefined, f: () => 1, list: [undefined, () => 1, NaN, -0, Infinity], d: new Date(0), nested: { toJSON: () => "t" } };
    expect(stringifyJson(odd as never)).toBe(JSON.stringify(odd));
  });

  it("writes 200,000 levels without overflowing", () => {
    const text = "[".repeat(200_000) + "]".repeat(200_000);
    expect(stringifyJson(JSON.parse(text) as JsonValue)).toBe(text);
    const objects = '{"a":'.repeat(200_000) + "1" + "}".repeat(200_000);
    expect(stringifyJson(JSON.parse(objects) as JsonValue)).toBe(objects);
  });

  it("refuses a cycle as JSON.stringify does", () => {
    const cyclic: Record<string, unknown> = { a: [1] };
    (cyclic.a as unknown[]).push(cyclic);
    expect(() => stringifyJson(cyclic as never)).toThrow(TypeError);
    const shared = { x: 1 };
    expect(stringifyJson({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
  });
});

describe("nestingExceeds", () => {
  it("measures the nesting of the text exactly, brackets inside strings aside", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 9 }), (value, limit) => {
        const text = JSON.stringify(value);
        expect(nestingExceeds(text, limit)).toBe(depthOf(value) > limit);
      }),
      { seed: 10, numRuns: 2000 },
    );
    expect(nestingExceeds('{"a":"[[[[{{{{"}', 1)).toBe(false);
    expect(nestingExceeds('{"a":"\\"[[["}', 1)).toBe(false);
    expect(nestingExceeds('{"a\\\\":[[1]]}', 2)).toBe(true);
    expect(nestingExceeds('{"a\\\\":"[[["}', 1)).toBe(false);
  });

  it("scans 200,000 levels, and unterminated text, without overflowing", () => {
    expect(nestingExceeds("[".repeat(200_000) + "]".repeat(200_000), 100)).toBe(true);
    expect(nestingExceeds('{"a":"' + "[".repeat(1000), 1)).toBe(false);
    expect(nestingExceeds("[".repeat(101), 100)).toBe(true);
    expect(nestingExceeds("[".repeat(100), 100)).toBe(false);
  });
});
