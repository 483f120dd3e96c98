// The wire protocol itself: every message survives binary and JSON encoding,
// and the validation rules in the schema refuse what docs/PROTOCOL.md forbids.
import { describe, expect, it } from "vitest";
import {
  create,
  equals,
  fromBinary,
  fromJson,
  toBinary,
  toJson,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import * as pb from "../gen/ts/pocket/sync/v1/sync_pb.js";

// Written as text: the integer beyond 2^53 must survive exactly as written.
const nestedUnicodeDocument =
  '{"title":"Café ☕ — 買い物 🛒","done":false,"priority":3.25,"tags":["home","🏠",""],' +
  '"owner":{"name":"Zoë","address":{"city":"Zürich","geo":[47.37,8.54]}},"notes":null,' +
  '"escaped":"quote \\" backslash \\\\ newline \\n nul \\u0000","big":9007199254740993,"e":1e-7}';

function change(overrides: MessageInitShape<typeof pb.ChangeEventSchema> = {}) {
  const base: MessageInitShape<typeof pb.ChangeEventSchema> = {
    operation: pb.Operation.UPDATE,
    collection: "todos",
    documentId: "doc-1",
    document: nestedUnicodeDocument,
    baseRevision: "1-a1b2",
    revision: "2-c3d4",
    clientId: "client-a",
    clientSequence: 42n,
    timestamp: { wallTimeMs: 1_703_001_234_567n, logical: 7 },
    serverSequence: 18_446_744_073_709_551_615n, // uint64 max survives
    deleted: false,
  };
  return create(pb.ChangeEventSchema, { ...base, ...overrides } as MessageInitShape<typeof pb.ChangeEventSchema>);
}

const checkpoint = create(pb.CheckpointSchema, {
  serverSequence: 1000n,
  collections: { todos: 50n, notes: 25n },
  epoch: "01HZX3",
  pagingSince: { notes: 900n },
  filters: { todos: "q2QkMqXlYbS1c0k7tCk1Fw" },
});

const filter = create(pb.FilterSchema, {
  conditions: [
    { field: "listId", values: ['"42"', '"43"'] },
    { field: "done", values: ["false"] },
  ],
});

// One populated sample per message of the protocol; the completeness test
// below fails when a message is added to the schema without a sample here.
const samples: Record<string, MessageShape<DescMessage>> = {
  "pocket.sync.v1.HybridLogicalClock": create(pb.HybridLogicalClockSchema, { wallTimeMs: 5n, logical: 1 }),
  "pocket.sync.v1.ChangeEvent": change(),
  "pocket.sync.v1.Checkpoint": checkpoint,
  "pocket.sync.v1.PushRequest": create(pb.PushRequestSchema, {
    clientId: "client-a",
    changes: [change(), change({ documentId: "doc-2", operation: pb.Operation.DELETE, document: "", deleted: true })],
  }),
  "pocket.sync.v1.PushResponse": create(pb.PushResponseSchema, {
    checkpoint,
    results: [
      { clientSequence: 1n, outcome: { case: "accepted", value: { revision: "2-x", serverSequence: 9n } } },
      { clientSequence: 2n, outcome: { case: "resolved", value: { current: change(), strategy: "merge" } } },
      { clientSequence: 3n, outcome: { case: "conflict", value: { current: change({ deleted: true, document: "" }) } } },
      {
        clientSequence: 4n,
        outcome: {
          case: "rejected",
          value: {
            code: 7,
            reason: "ERROR_REASON_PERMISSION_DENIED",
            message: "no write access to todos/doc-4",
            fieldViolations: [{ field: "changes[3].document", description: "must be a JSON object" }],
          },
        },
      },
    ],
  }),
  "pocket.sync.v1.ChangeResult": create(pb.ChangeResultSchema, {
    clientSequence: 9n,
    outcome: { case: "accepted", value: { revision: "1-z", serverSequence: 1n } },
  }),
  "pocket.sync.v1.Accepted": create(pb.AcceptedSchema, { revision: "3-q", serverSequence: 77n }),
  "pocket.sync.v1.Resolved": create(pb.ResolvedSchema, { current: change(), strategy: "last-write-wins" }),
  "pocket.sync.v1.Conflict": create(pb.ConflictSchema, { current: change() }),
  "pocket.sync.v1.Rejected": create(pb.RejectedSchema, { code: 3, reason: "ERROR_REASON_INVALID_DOCUMENT", message: "not an object" }),
  "pocket.sync.v1.PullRequest": create(pb.PullRequestSchema, {
    collections: ["todos", "notes"],
    checkpoint,
    limit: 100,
    clientId: "client-a",
    filters: { todos: filter },
  }),
  "pocket.sync.v1.Filter": filter,
  "pocket.sync.v1.FieldCondition": create(pb.FieldConditionSchema, { field: "ownerId", values: ['"ada"'] }),
  "pocket.sync.v1.PullResponse": create(pb.PullResponseSchema, { changes: [change()], checkpoint, hasMore: true }),
  "pocket.sync.v1.SubscribeRequest": create(pb.SubscribeRequestSchema, {
    collections: ["todos"],
    checkpoint,
    clientId: "client-b",
    heartbeatIntervalMs: 15_000,
    filters: { todos: filter },
  }),
  "pocket.sync.v1.SubscribeResponse": create(pb.SubscribeResponseSchema, {
    event: { case: "changes", value: { changes: [change()], checkpoint, caughtUp: true } },
  }),
  "pocket.sync.v1.ChangeBatch": create(pb.ChangeBatchSchema, { changes: [change()], checkpoint, caughtUp: false }),
  "pocket.sync.v1.Heartbeat": create(pb.HeartbeatSchema, { checkpoint, serverTimeMs: 1_703_001_234_567n }),
};

describe("pocket.sync.v1 messages", () => {
  it("has a sample for every message in the schema", () => {
    const declared = [...pb.file_pocket_sync_v1_sync.messages].map((m) => m.typeName).sort();
    expect(Object.keys(samples).sort()).toEqual(declared);
  });

  for (const schema of pb.file_pocket_sync_v1_sync.messages) {
    it(`${schema.typeName} round-trips in binary and JSON`, () => {
      const sample = samples[schema.typeName]!;
      const fromBin = fromBinary(schema, toBinary(schema, sample));
      expect(equals(schema, fromBin, sample)).toBe(true);
      const json = toJson(schema, sample);
      const fromJ = fromJson(schema, JSON.parse(JSON.stringify(json)));
      expect(equals(schema, fromJ, sample)).toBe(true);
    });
  }

  it("carries documents as exact JSON text, unicode and nesting included", () => {
    const decoded = fromBinary(pb.ChangeEventSchema, toBinary(pb.ChangeEventSchema, change()));
    expect(decoded.document).toBe(nestedUnicodeDocument);
    // Integers beyond 2^53 stay as written, which a Struct (doubles) cannot do.
    expect(decoded.document).toContain("9007199254740993");
    expect(JSON.parse(decoded.document).owner.address.city).toBe("Zürich");
  });
});

describe("validation rules in the schema", () => {
  const validator = createValidator();
  const validPush = () =>
    create(pb.PushRequestSchema, {
      clientId: "client-a",
      changes: [change({ revision: "", serverSequence: 0n, clientId: "" })],
    });

  it("accepts a well-formed push", () => {
    expect(validator.validate(pb.PushRequestSchema, validPush()).kind).toBe("valid");
  });

  it("refuses a collection name that breaks the format", () => {
    const push = validPush();
    push.changes[0]!.collection = "9 lives";
    expect(validator.validate(pb.PushRequestSchema, push).kind).toBe("invalid");
  });

  it("refuses an empty and an oversized batch", () => {
    const empty = validPush();
    empty.changes = [];
    expect(validator.validate(pb.PushRequestSchema, empty).kind).toBe("invalid");
    const huge = validPush();
    huge.changes = Array.from({ length: 501 }, (_, i) => change({ documentId: `d${i}`, clientSequence: BigInt(i + 1) }));
    expect(validator.validate(pb.PushRequestSchema, huge).kind).toBe("invalid");
  });

  it("refuses a document over 1 MiB", () => {
    const push = validPush();
    push.changes[0]!.document = JSON.stringify({ blob: "x".repeat(1024 * 1024) });
    expect(validator.validate(pb.PushRequestSchema, push).kind).toBe("invalid");
  });

  it("refuses two changes to one document in one push", () => {
    const push = validPush();
    push.changes.push(change({ clientSequence: 43n }));
    const result = validator.validate(pb.PushRequestSchema, push);
    expect(result.kind).toBe("invalid");
    expect(result.kind === "invalid" && result.violations.some((v) => v.ruleId === "push.one_change_per_document")).toBe(true);
  });

  it("refuses a delete that carries a document and an update without one", () => {
    const del = validPush();
    del.changes[0]!.operation = pb.Operation.DELETE;
    expect(validator.validate(pb.PushRequestSchema, del).kind).toBe("invalid");
    const upd = validPush();
    upd.changes[0]!.document = "";
    expect(validator.validate(pb.PushRequestSchema, upd).kind).toBe("invalid");
  });

  it("refuses a pushed removal: only the server sends them (§13.6)", () => {
    const removal = validPush();
    removal.changes[0]!.removed = true;
    const result = validator.validate(pb.PushRequestSchema, removal);
    expect(result.kind).toBe("invalid");
    expect(result.kind === "invalid" && result.violations.map((v) => v.ruleId)).toContain("change.removal_from_server_only");
  });

  it("refuses a change without operation, client sequence or timestamp", () => {
    const push = validPush();
    push.changes[0]!.operation = pb.Operation.UNSPECIFIED;
    push.changes[0]!.clientSequence = 0n;
    push.changes[0]!.timestamp = undefined;
    const result = validator.validate(pb.PushRequestSchema, push);
    expect(result.kind).toBe("invalid");
    expect(result.kind === "invalid" && result.violations.length).toBeGreaterThanOrEqual(3);
  });

  it("accepts a pull naming no collection (every readable one, §4.8); refuses a page over 1000 and repeated names", () => {
    expect(validator.validate(pb.PullRequestSchema, create(pb.PullRequestSchema, {})).kind).toBe("valid");
    const tooBig = create(pb.PullRequestSchema, { collections: ["todos"], limit: 1001 });
    expect(validator.validate(pb.PullRequestSchema, tooBig).kind).toBe("invalid");
    const dup = create(pb.PullRequestSchema, { collections: ["todos", "todos"] });
    expect(validator.validate(pb.PullRequestSchema, dup).kind).toBe("invalid");
  });

  it("bounds filters (§4.10, §14): 1 to 8 conditions of 1 to 100 values, collection-name keys", () => {
    const pull = (filters: Record<string, unknown>) => validator.validate(pb.PullRequestSchema, create(pb.PullRequestSchema, { filters } as never)).kind;
    const condition = (values: string[], field = "list") => ({ field, values });
    expect(pull({ todos: { conditions: [condition(['"a"'])] } })).toBe("valid");
    expect(pull({ todos: { conditions: [] } })).toBe("invalid");
    expect(pull({ todos: { conditions: Array.from({ length: 9 }, (_, i) => condition(["1"], `f${i}`)) } })).toBe("invalid");
    expect(pull({ todos: { conditions: [condition([])] } })).toBe("invalid");
    expect(pull({ todos: { conditions: [condition(Array.from({ length: 101 }, (_, i) => String(i)))] } })).toBe("invalid");
    expect(pull({ todos: { conditions: [condition([""])] } })).toBe("invalid");
    expect(pull({ todos: { conditions: [condition(["1"], "")] } })).toBe("invalid");
    expect(pull({ "9bad": { conditions: [condition(["1"])] } })).toBe("invalid");
  });
});
