import { describe, expect, it } from "vitest";
import { DOCUMENT_BYTES, HOT_LIST, documentText, hotCount, listOf, type ListSpread } from "./data.js";

const spread: ListSpread = { hotEvery: 100, lists: 199 };

describe("documentText", () => {
  it("stays DOCUMENT_BYTES of JSON with a top-level list field when given one", () => {
    for (const n of [0, 7, 99_999, 123_456_789]) {
      for (const list of [undefined, HOT_LIST, listOf(n + 1, spread)]) {
        const text = documentText(n, list);
        expect(text).toHaveLength(DOCUMENT_BYTES);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        expect(parsed.list).toBe(list);
        expect(parsed.title).toBe(`task ${n}`);
      }
    }
  });
});

describe("listOf and hotCount", () => {
  it("puts exactly one document in hotEvery in the hot list, and spreads the rest over many smaller lists", () => {
    const sizes = new Map<string, number>();
    for (let n = 0; n < 100_000; n++) sizes.set(listOf(n, spread), (sizes.get(listOf(n, spread)) ?? 0) + 1);
    expect(sizes.get(HOT_LIST)).toBe(1000);
    expect(sizes.size).toBe(1 + spread.lists);
    const others = [...sizes].filter(([list]) => list !== HOT_LIST).map(([, size]) => size);
    expect(Math.max(...others)).toBeLessThan(1000);
    expect(Math.min(...others)).toBeGreaterThan(400);
  });

  it("counts the hot documents of any range as listOf assigns them", () => {
    for (const [from, count] of [[0, 100_000], [0, 1], [1, 99], [1, 100], [99, 2], [250, 1_000], [12_345, 6_789], [5, 0]] as const) {
      let expected = 0;
      for (let n = from; n < from + count; n++) if (listOf(n, spread) === HOT_LIST) expected++;
      expect(hotCount(from, count, spread), `${from} + ${count}`).toBe(expected);
    }
  });
});
