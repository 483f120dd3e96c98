import { describe, expect, it } from "vitest";
import { canonicalValue, fieldValue, fieldValues, indexedFields, parseIndexSpecs, specKey, specSetKey } from "./index-values.js";

describe("fieldValue", () => {
  it("gives strings, numbers, booleans and null as canonical JSON text", () => {
    const doc = '{"s":"42","n":42,"t":true,"f":false,"z":null}';
    expect(["s", "n", "t", "f", "z"].map((f) => fieldValue(doc, f))).toEqual(['"42"', "42", "true", "false", "null"]);
  });

  it("makes a number one value however it is written", () => {
    for (const text of ["1", "1.0", "1e0", "10e-1", "1.000000000000000000001"]) expect(fieldValue(`{"n":${text}}`, "n")).toBe("1");
    expect(fieldValue('{"n":-0}', "n")).toBe("0");
    expect(fieldValue('{"n":-0.0}', "n")).toBe(fieldValue('{"n":0}', "n"));
    // Beyond 2^53 numbers are doubles: 2^53 + 1 rounds to 2^53.
    expect(fieldValue('{"n":9007199254740993}', "n")).toBe(fieldValue('{"n":9007199254740992}', "n"));
    expect(fieldValue('{"n":1e21}', "n")).toBe("1e+21");
    // Too large for a double: its own value, never null's.
    expect(fieldValue('{"n":1e400}', "n")).toBe("Infinity");
    expect(fieldValue('{"n":-1e400}', "n")).toBe("-Infinity");
    expect(fieldValue('{"n":1e400}', "n")).not.toBe(fieldValue('{"n":null}', "n"));
  });

  it("keeps strings exact: escapes, unicode and look-alikes of other types", () => {
    expect(fieldValue('{"s":"\\u00e9"}', "s")).toBe(fieldValue('{"s":"é"}', "s"));
    expect(fieldValue('{"s":"e\\u0301"}', "s")).not.toBe(fieldValue('{"s":"é"}', "s")); // no normalization
    expect(fieldValue('{"s":"☕ \\ud83d\\ude00"}', "s")).toBe('"☕ 😀"');
    expect(fieldValue('{"s":"1"}', "s")).not.toBe(fieldValue('{"s":1}', "s"));
    expect(fieldValue('{"s":"null"}', "s")).toBe('"null"');
    expect(fieldValue('{"s":"a\\u0000b"}', "s")).toBe('"a\\u0000b"'); // no raw NUL in a value
    expect(fieldValue('{"s":"\\ud800"}', "s")).toBe('"\\ud800"'); // a lone surrogate survives as an escape
    expect(fieldValue('{"s":"x\\/y"}', "s")).toBe('"x/y"');
  });

  it("has none for missing fields, objects, arrays, tombstones, non-objects and bad JSON", () => {
    const doc = '{"o":{"a":1},"a":[1],"e":""}';
    expect(fieldValue(doc, "o")).toBeUndefined();
    expect(fieldValue(doc, "a")).toBeUndefined();
    expect(fieldValue(doc, "missing")).toBeUndefined();
    expect(fieldValue(doc, "e")).toBe('""');
    expect(fieldValue("", "a")).toBeUndefined();
    for (const text of ["[1]", "1", '"a"', "null", "true", "{", "not json", '{"a":1} x']) expect(fieldValue(text, "a")).toBeUndefined();
    expect(fieldValue('{"o":{"a":1}}', "o.a")).toBeUndefined(); // top-level only
    expect(fieldValue('{"o.a":1}', "o.a")).toBe("1");
  });

  it("reads only the document's own fields, never inherited ones", () => {
    for (const field of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) expect(fieldValue("{}", field)).toBeUndefined();
    expect(fieldValue('{"__proto__":"x"}', "__proto__")).toBe('"x"');
    expect(fieldValue('{"constructor":7}', "constructor")).toBe("7");
  });

  it("takes the last of a key written twice, as JSON.parse does", () => {
    expect(fieldValue('{"a":1,"a":"two"}', "a")).toBe('"two"');
    expect(fieldValue('{"a":1,"a":{}}', "a")).toBeUndefined();
  });

  it("parses once for several fields, and a 1 MiB document is no trouble", () => {
    const big = JSON.stringify({ listId: "42", ownerId: 7, blob: "x".repeat(1 << 20), nested: { listId: "no" } });
    const values = fieldValues(big, ["listId", "ownerId", "blob", "nested", "nope", "listId"]);
    expect(values.get("listId")).toBe('"42"');
    expect(values.get("ownerId")).toBe("7");
    expect(values.get("blob")?.length).toBe((1 << 20) + 2);
    expect(values.has("nested")).toBe(false);
    expect(fieldValues(big, []).size).toBe(0);
    expect(fieldValues("", ["a"]).size).toBe(0);
  });
});

describe("canonicalValue", () => {
  it("agrees with fieldValue for every scalar and refuses anything else", () => {
    for (const text of ['"42"', "42", "4.2e1", "-0", "true", "false", "null", '"é"', '"\\u00e9"', "1e400", " 7 "]) {
      expect(canonicalValue(text)).toBe(fieldValue(`{"f":${text}}`, "f"));
    }
    for (const text of ["", "{}", "[]", "[1]", "'a'", "abc", "NaN", "Infinity", "01", '"a" "b"', "1,2", "undefined"]) {
      expect(canonicalValue(text)).toBeUndefined();
    }
  });
});

describe("index specs", () => {
  it("parses the command-line form, field after the first dot, duplicates once", () => {
    const specs = parseIndexSpecs("todos.listId, *.ownerId,todos.listId,notes.meta.tag");
    expect(specs).toEqual([
      { collection: "todos", field: "listId" },
      { collection: "*", field: "ownerId" },
      { collection: "notes", field: "meta.tag" },
    ]);
    expect(specs.map(specKey)).toEqual(["todos.listId", "*.ownerId", "notes.meta.tag"]);
  });

  it("refuses bad input with one line naming the part", () => {
    const bad: Array<[string, RegExp]> = [
      ["", /empty entry/],
      ["todos.a,,notes.b", /empty entry/],
      ["todos.a,", /empty entry/],
      ["todos", /"todos" has no dot/],
      [".field", /"" is not a collection name/],
      ["1todos.a", /"1todos" is not a collection name/],
      ["to dos.a", /not a collection name/],
      ["**.a", /not a collection name/],
      [`${"c".repeat(65)}.a`, /not a collection name/],
      ["todos.", /1 to 128 characters/],
      [`todos.${"f".repeat(129)}`, /1 to 128 characters/],
      ["todos.a\u0000b", /NUL/],
    ];
    for (const [text, message] of bad) {
      let error: unknown;
      try {
        parseIndexSpecs(text);
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain("\n");
    }
    expect(parseIndexSpecs(`${"c".repeat(64)}.${"☕".repeat(128)}`)).toHaveLength(1);
  });

  it("lists the fields indexed for a collection, wildcard included, each once", () => {
    const specs = parseIndexSpecs("todos.listId,*.ownerId,todos.ownerId,notes.tag");
    expect(indexedFields(specs, "todos")).toEqual(["listId", "ownerId"]);
    expect(indexedFields(specs, "notes")).toEqual(["ownerId", "tag"]);
    expect(indexedFields(specs, "other")).toEqual(["ownerId"]);
    expect(indexedFields([], "todos")).toEqual([]);
  });

  it("compares sets regardless of order and repetition", () => {
    expect(specSetKey(parseIndexSpecs("b.x,a.y"))).toBe(specSetKey(parseIndexSpecs("a.y,b.x,a.y")));
    expect(specSetKey(parseIndexSpecs("a.y"))).not.toBe(specSetKey(parseIndexSpecs("a.y,b.x")));
  });
});
