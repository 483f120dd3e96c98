// Documents nested past the limit (PROTOCOL §3.4) are rejected change by
// change, under every conflict strategy, and the rest of the batch goes on.
// A push carrying a 200,000-level document under last-write-wins, merge or
// client-wins used to fail whole with "unknown: Maximum call stack size
// exceeded".
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { MAX_DOCUMENT_DEPTH } from "../../../common/src/documents.js";
import { ChangeEventSchema, Operation, PushRequestSchema, type ChangeResult } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createMemoryStorage } from "../storage/index.js";
import type { ServerConflictStrategy } from "./conflicts.js";
import { SyncCore } from "./sync-core.js";

const principal = { id: "alice" };
let wall = 1_700_000_000_000;

const nested = (depth: number) => `{"a":${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`;
const nestedObjects = (depth: number) => `{"a":${'{"b":'.repeat(depth - 1)}1${"}".repeat(depth - 1)}}`;

function change(documentId: string, document: string, clientSequence: number, operation = Operation.INSERT) {
  return create(ChangeEventSchema, {
    operation,
    collection: "todos",
    documentId,
    document,
    clientSequence: BigInt(clientSequence),
    timestamp: { wallTimeMs: BigInt(wall++), logical: 0 },
  });
}

function expectTooDeep(result: ChangeResult | undefined, index: number): void {
  expect(result?.outcome.case).toBe("rejected");
  if (result?.outcome.case !== "rejected") return;
  expect(result.outcome.value).toMatchObject({ code: 3, reason: "ERROR_REASON_INVALID_DOCUMENT" });
  expect(result.outcome.value.fieldViolations.map((v) => v.field)).toEqual([`changes[${index}].document`]);
  expect(result.outcome.value.message).toContain(String(MAX_DOCUMENT_DEPTH));
}

const STRATEGIES: readonly ServerConflictStrategy[] = ["report", "last-write-wins", "merge", "client-wins", "server-wins"];

describe.each(STRATEGIES)("under %s", (strategy) => {
  it("rejects documents nested past the limit, new or conflicting, and commits the rest of the batch", async () => {
    const core = await SyncCore.open(createMemoryStorage(), { conflicts: { default: strategy }, now: () => wall });
    await core.push(principal, create(PushRequestSchema, { clientId: "a", changes: [change("existing", '{"v":1}', 1)] }));
    const results = (
      await core.push(
        principal,
        create(PushRequestSchema, {
          clientId: "b",
          changes: [
            change("existing", nested(200_000), 1), // conflicts: reaches the strategy
            change("new-deep", nestedObjects(150_000), 2), // just under 1 MiB
            change("just-over", nested(MAX_DOCUMENT_DEPTH + 1), 3),
            change("at-limit", nested(MAX_DOCUMENT_DEPTH), 4),
            change("plain", '{"ok":true}', 5),
          ],
        }),
      )
    ).results;
    expectTooDeep(results[0], 0);
    expectTooDeep(results[1], 1);
    expectTooDeep(results[2], 2);
    expect(results[3]?.outcome.case).toBe("accepted");
    expect(results[4]?.outcome.case).toBe("accepted");
    const pulled = await core.pull(principal, { collections: ["todos"] });
    expect(pulled.changes.map((c) => c.documentId).sort()).toEqual(["at-limit", "existing", "plain"]);
    expect(pulled.changes.find((c) => c.documentId === "existing")?.document).toBe('{"v":1}');
  });
});

describe("a document stored before the limit existed", () => {
  async function coreWithLegacy(strategy: ServerConflictStrategy) {
    const storage = createMemoryStorage();
    await storage.open();
    const event = create(ChangeEventSchema, {
      operation: Operation.INSERT,
      collection: "todos",
      documentId: "legacy",
      document: `{"deep":${"[".repeat(200_000)}${"]".repeat(200_000)},"v":1}`,
      revision: "1-1",
      serverSequence: 1n,
      clientId: "old",
      clientSequence: 1n,
      timestamp: { wallTimeMs: BigInt(wall++), logical: 0 },
    });
    await storage.commitGroup(async () => ({ batch: { changes: [{ event, committedAtMs: wall }], idempotency: [], lastSequence: 1n }, result: undefined }), { sync: false });
    return SyncCore.open(storage, { conflicts: { default: strategy }, now: () => wall });
  }

  it.each(["last-write-wins", "merge", "client-wins", "server-wins"] as const)("still settles a conflict on it under %s", async (strategy) => {
    const core = await coreWithLegacy(strategy);
    const [result] = (
      await core.push(principal, create(PushRequestSchema, { clientId: "b", changes: [change("legacy", '{"v":2}', 1, Operation.UPDATE)] }))
    ).results;
    expect(result?.outcome.case).toBe("resolved");
    const current = result?.outcome.case === "resolved" ? result.outcome.value.current : undefined;
    if (strategy === "merge") {
      // Two-way merge: the key only the server has stays, the later value of v wins.
      expect(current?.document.startsWith('{"deep":[[[')).toBe(true);
      expect(current?.document.endsWith(']]],"v":2}')).toBe(true);
    }
    if (strategy === "server-wins") expect(current?.revision).toBe("1-1");
    else expect(current?.revision).not.toBe("1-1");
  });
});
