import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../common/src/index.js";
import { adopted, decodeRecord, encodeRecord, type DocRecord, type ServerState } from "./records.js";

// As JSON gives them back (no -0).
const json = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })).map((v) => JSON.parse(JSON.stringify(v)) as JsonObject);
const doc = fc.option(json, { nil: null });
const ts = fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 50n }).map(String), fc.nat(5)) as fc.Arbitrary<[string, number]>;
const server = fc.record({ rev: fc.string({ maxLength: 8 }), seq: fc.bigInt({ min: 0n, max: 2n ** 60n }).map(String), doc, ts, by: fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), maxLength: 8 }) });

/** Records as the database builds them: documents often shared between fields (the same object). */
const record: fc.Arbitrary<DocRecord> = fc
  .record({
    doc,
    rev: fc.string({ maxLength: 8 }),
    ts,
    by: fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), maxLength: 8 }),
    pending: fc.option(fc.bigInt({ min: 1n, max: 2n ** 60n }).map(String), { nil: undefined }),
    base: fc.string({ maxLength: 8 }),
    baseDoc: fc.option(doc, { nil: undefined }),
    server: fc.option(server, { nil: undefined }),
    shareBase: fc.boolean(),
    shareServer: fc.constantFrom("no", "doc", "base"),
  })
  .map(({ shareBase, shareServer, ...r }) => {
    const out: DocRecord = { doc: r.doc, rev: r.rev, ts: r.ts, by: r.by, base: r.base };
    if (r.pending !== undefined) out.pending = r.pending;
    if (r.baseDoc !== undefined) out.baseDoc = shareBase ? r.doc : r.baseDoc;
    if (r.server) out.server = { ...r.server, doc: shareServer === "doc" ? r.doc : shareServer === "base" && out.baseDoc !== undefined ? out.baseDoc : r.server.doc };
    return out;
  });

describe("stored records", () => {
  it("read back as written, whatever their documents share", () => {
    fc.assert(
      fc.property(fc.oneof(record, server.map((s) => adopted(s as ServerState))), (r) => {
        expect(decodeRecord(encodeRecord(r))).toEqual(r);
      }),
      { numRuns: 2000 },
    );
  });

  it("store a synced document once, not three times", () => {
    const document = { title: "x".repeat(100) };
    const text = encodeRecord(adopted({ rev: "1-a", seq: "1", doc: document, ts: ["1", 0], by: "c" }));
    expect(text.split("x".repeat(100))).toHaveLength(2);
    const pending: DocRecord = { doc: { title: "local" }, rev: "local-2", ts: ["2", 0], by: "me", pending: "2", base: "1-a", baseDoc: document, server: { rev: "1-a", seq: "1", doc: document, ts: ["1", 0], by: "c" } };
    expect(encodeRecord(pending).split("x".repeat(100))).toHaveLength(2);
  });

  it("read records written before the compact encoding", () => {
    const old = {
      doc: { v: 2 },
      rev: "local-3",
      ts: ["5", 1],
      by: "me",
      pending: "3",
      base: "1-a",
      baseDoc: { v: 1 },
      server: { rev: "1-a", seq: "1", doc: { v: 1 }, ts: ["4", 0], by: "other" },
    };
    expect(decodeRecord(JSON.stringify(old))).toEqual(old);
    const clean = { doc: { v: 1 }, rev: "1-a", ts: ["4", 0], by: "other", base: "1-a", baseDoc: { v: 1 }, server: { rev: "1-a", seq: "1", doc: { v: 1 }, ts: ["4", 0], by: "other" } };
    expect(decodeRecord(JSON.stringify(clean))).toEqual(clean);
  });
});
