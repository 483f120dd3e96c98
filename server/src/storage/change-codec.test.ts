// The hand-written ChangeEvent codec must agree with protobuf-es byte for
// byte and field for field, on any message.
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChangeEventSchema, type ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { decodeEvent, encodeEvent } from "./change-codec.js";

const uint64 = fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 32n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
const text = fc.oneof(fc.constant(""), fc.string(), fc.string({ unit: "grapheme", maxLength: 200 }), fc.string({ unit: "binary", maxLength: 50 }), fc.constant("x".repeat(300)), fc.constant("é".repeat(100)));
const event = fc.record({
  operation: fc.integer({ min: 0, max: 3 }),
  collection: text,
  documentId: text,
  document: text,
  baseRevision: text,
  revision: text,
  clientId: text,
  clientSequence: uint64,
  timestamp: fc.option(fc.record({ wallTimeMs: uint64, logical: fc.nat({ max: 2 ** 32 - 1 }) }), { nil: undefined }),
  serverSequence: uint64,
  deleted: fc.boolean(),
}).map((init) => create(ChangeEventSchema, init));

describe("the ChangeEvent codec", () => {
  it("encodes exactly as protobuf-es does", () => {
    fc.assert(fc.property(event, (e) => {
      expect(Buffer.from(encodeEvent(e)).equals(Buffer.from(toBinary(ChangeEventSchema, e)))).toBe(true);
    }), { numRuns: 1000 });
  });

  it("decodes to the message protobuf-es decodes", () => {
    fc.assert(fc.property(event, (e) => {
      const bytes = toBinary(ChangeEventSchema, e);
      const mine = decodeEvent(bytes);
      expect(equals(ChangeEventSchema, mine, fromBinary(ChangeEventSchema, bytes))).toBe(true);
      expect(toBinary(ChangeEventSchema, mine)).toEqual(bytes);
    }), { numRuns: 1000 });
  });

  it("skips fields it does not know, as a later version may add them", () => {
    const e = create(ChangeEventSchema, { collection: "todos", documentId: "a", serverSequence: 5n });
    const withUnknown = Buffer.concat([Buffer.from(toBinary(ChangeEventSchema, e)), Buffer.from([0xa0, 0x01, 0x07, 0xaa, 0x01, 0x02, 0x68, 0x69])]);
    const decoded = decodeEvent(withUnknown);
    expect([decoded.collection, decoded.documentId, decoded.serverSequence]).toEqual(["todos", "a", 5n]);
  });

  it("refuses truncated or mistyped bytes rather than inventing a change", () => {
    const bytes = Buffer.from(toBinary(ChangeEventSchema, create(ChangeEventSchema, { collection: "todos", document: '{"a":1}' })));
    expect(() => decodeEvent(bytes.subarray(0, bytes.length - 2))).toThrow(/truncated/);
    expect(() => decodeEvent(Buffer.from([0x10, 0x05]))).toThrow(/wire type/); // field 2 as a varint
  });

  it("remembers each event's bytes, so nothing is encoded twice", () => {
    const e: ChangeEvent = create(ChangeEventSchema, { collection: "todos", documentId: "a" });
    expect(encodeEvent(e)).toBe(encodeEvent(e));
    const bytes = encodeEvent(e);
    expect(encodeEvent(decodeEvent(bytes))).toBe(bytes);
  });
});
