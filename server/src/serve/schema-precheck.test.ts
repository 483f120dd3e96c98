// The direct check must agree with protovalidate on every request: never
// "valid" where protovalidate finds a violation (that would let bad input
// in), and "valid" wherever protovalidate does (or it saves nothing).
import { create } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  PullRequestSchema,
  PushRequestSchema,
  SubscribeRequestSchema,
  type PullRequest,
  type PushRequest,
  type SubscribeRequest,
} from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { pullObeysSchema, pushObeysSchema, subscribeObeysSchema } from "./schema-precheck.js";

const validator = createValidator();
const protovalidateSays = (request: PushRequest) => validator.validate(PushRequestSchema, request).kind === "valid";

/** Mostly the valid value, else one of the edge cases or a random string. */
const near = (valid: string, ...others: string[]) =>
  fc.oneof({ weight: 12, arbitrary: fc.constant(valid) }, { weight: 3, arbitrary: fc.constantFrom(...others) }, { weight: 1, arbitrary: fc.string({ maxLength: 4 }) });
const clientId = near("client-1", "", "a b", "é", "c".repeat(128), "c".repeat(129), "a.b_c:d-e", "\n");
const collection = near("todos", "", "9lives", "_x", "a".repeat(64), "a".repeat(65), "to-do_s", "tödos");
const documentId = near("doc-1", "", "a b", "d".repeat(256), "d".repeat(257), "a/b:c@d+e=f~g", "ü");
const document = near('{"a":1}', "", "not json", "x".repeat(1024 * 1024), "x".repeat(1024 * 1024 + 1), "é".repeat(524_288), "é".repeat(524_289));
const baseRevision = near("", "1-a", "r".repeat(128), "r".repeat(129), "é".repeat(128), "😀".repeat(128), "😀".repeat(129));
const change = fc.record({
  operation: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(1, 2) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 }) }),
  collection,
  documentId,
  document,
  baseRevision,
  clientSequence: fc.oneof({ weight: 6, arbitrary: fc.bigInt({ min: 1n, max: 1000n }) }, { weight: 1, arbitrary: fc.constantFrom(0n, 1n, 2n ** 64n - 1n) }),
  timestamp: fc.option(fc.record({ wallTimeMs: fc.oneof({ weight: 8, arbitrary: fc.constant(1_700_000_000_000n) }, { weight: 1, arbitrary: fc.constantFrom(0n, 1n) }), logical: fc.nat({ max: 3 }) }), { nil: undefined, freq: 10 }),
  revision: fc.constantFrom("", "anything"),
  serverSequence: fc.constantFrom(0n, 9n),
  deleted: fc.boolean(),
  clientId: fc.constantFrom("", "ignored"),
});
const request = fc.record({ clientId, changes: fc.array(change, { minLength: 0, maxLength: 3 }) }).map((init) => create(PushRequestSchema, init));

describe("the direct check of a push", () => {
  it("agrees with protovalidate on generated requests", () => {
    let valid = 0;
    fc.assert(fc.property(request, (r) => {
      const expected = protovalidateSays(r);
      if (expected) valid++;
      expect(pushObeysSchema(r)).toBe(expected);
    }), { numRuns: 3000 });
    // The generator reaches both verdicts often enough to mean something.
    expect(valid).toBeGreaterThan(200);
  });

  it("agrees on a valid request made invalid in one field at a time", () => {
    const good = () => create(PushRequestSchema, {
      clientId: "c",
      changes: [
        { operation: 1, collection: "todos", documentId: "a", document: "{}", clientSequence: 1n, timestamp: { wallTimeMs: 1n } },
        { operation: 2, collection: "todos", documentId: "b", document: "{}", baseRevision: "1-1", clientSequence: 2n, timestamp: { wallTimeMs: 1n } },
        { operation: 3, collection: "notes", documentId: "a", clientSequence: 3n, timestamp: { wallTimeMs: 1n } },
      ],
    });
    expect(pushObeysSchema(good())).toBe(true);
    expect(protovalidateSays(good())).toBe(true);
    const breakages: Array<(r: PushRequest) => void> = [
      (r) => (r.changes[1]!.documentId = "a"),
      (r) => (r.changes[1]!.clientSequence = 1n),
      (r) => (r.changes[2]!.collection = "todos"),
      (r) => (r.changes[0]!.baseRevision = "1-1"),
      (r) => (r.changes[2]!.document = "{}"),
      (r) => (r.changes[1]!.document = ""),
      (r) => (r.changes[0]!.timestamp = undefined),
      (r) => (r.changes = Array.from({ length: 501 }, (_, i) => ({ ...r.changes[0]!, documentId: `d${i}`, clientSequence: BigInt(i + 1) }))),
      (r) => (r.changes = []),
    ];
    for (const breakage of breakages) {
      const r = good();
      breakage(r);
      expect(pushObeysSchema(r)).toBe(false);
      expect(protovalidateSays(r)).toBe(false);
    }
    const full = good();
    full.changes = Array.from({ length: 500 }, (_, i) => ({ ...full.changes[0]!, documentId: `d${i}`, clientSequence: BigInt(i + 1) }));
    expect(pushObeysSchema(full)).toBe(true);
    expect(protovalidateSays(full)).toBe(true);
  });
});

const readerCollections = fc.array(near("todos", "", "9lives", "a".repeat(64), "a".repeat(65), "notes", "tödos"), { minLength: 0, maxLength: 4 });
const readerClientId = fc.oneof({ weight: 8, arbitrary: fc.constant("") }, { weight: 2, arbitrary: fc.constantFrom("c1", "é".repeat(128), "é".repeat(129), "x".repeat(128), "x".repeat(129), "😀".repeat(128), "😀".repeat(129)) });

describe("the direct checks of a pull and a subscribe", () => {
  it("agree with protovalidate on generated requests", () => {
    let valid = 0;
    const pull = fc.record({ collections: readerCollections, clientId: readerClientId, limit: fc.constantFrom(0, 1, 1000, 1001, 70_000) });
    fc.assert(fc.property(pull, (init) => {
      const r: PullRequest = create(PullRequestSchema, init);
      const expected = validator.validate(PullRequestSchema, r).kind === "valid";
      if (expected) valid++;
      expect(pullObeysSchema(r)).toBe(expected);
    }), { numRuns: 1500 });
    const subscribe = fc.record({ collections: readerCollections, clientId: readerClientId, heartbeatIntervalMs: fc.constantFrom(0, 50, 300_000, 300_001) });
    fc.assert(fc.property(subscribe, (init) => {
      const r: SubscribeRequest = create(SubscribeRequestSchema, init);
      const expected = validator.validate(SubscribeRequestSchema, r).kind === "valid";
      if (expected) valid++;
      expect(subscribeObeysSchema(r)).toBe(expected);
    }), { numRuns: 1500 });
    expect(valid).toBeGreaterThan(300);
  });

  it("refuse 65 collections and accept 64", () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);
    expect(pullObeysSchema(create(PullRequestSchema, { collections: names(64) }))).toBe(true);
    expect(pullObeysSchema(create(PullRequestSchema, { collections: names(65) }))).toBe(false);
    expect(validator.validate(PullRequestSchema, create(PullRequestSchema, { collections: names(65) })).kind).toBe("invalid");
  });
});
