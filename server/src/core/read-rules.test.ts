// Per-document read rules (PROTOCOL §13.6) in the core: which removals are
// due, judged against the state at the reader's position or, within one
// batch, against what was sent just before; and the resync once a kept state
// a checkpoint might need was purged.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ChangeEventSchema, PushRequestSchema, type ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { pushed } from "../serve/testing.js";
import { createMemoryStorage } from "../storage/index.js";
import { commit } from "../storage/testing.js";
import { SyncCore, type Authorize, type Principal } from "./sync-core.js";
import { Visibility } from "./visibility.js";

const alice: Principal = { id: "alice" };
const ownerOf = (change: ChangeEvent) => (change.deleted ? undefined : (JSON.parse(change.document) as { owner?: string }).owner);
const ownerRule: Authorize = (principal, action, _collection, change) => action === "write" || !change || change.deleted || ownerOf(change) === principal.id;

function state(documentId: string, serverSequence: bigint, owner: string | null): ChangeEvent {
  return create(ChangeEventSchema, {
    collection: "todos",
    documentId,
    serverSequence,
    revision: `r${serverSequence}`,
    deleted: owner === null,
    document: owner === null ? "" : JSON.stringify({ owner }),
  });
}

describe("removals, given the changes read", () => {
  async function visibility(kept: Array<{ event: ChangeEvent; supersededBy: bigint }> = [], rule: Authorize = ownerRule) {
    const storage = createMemoryStorage();
    await storage.open();
    if (kept.length) {
      await commit(storage, { changes: [], superseded: kept.map((k) => ({ ...k, supersededAtMs: 1 })), idempotency: [], lastSequence: 100n });
    }
    return new Visibility(storage, rule, true);
  }

  it("removes a document sent earlier in the same batch that then stops matching", async () => {
    const v = await visibility();
    const out = await v.of(alice, [state("d", 1n, "alice"), state("d", 2n, "bob")], {});
    expect(out.map((c) => [c.serverSequence, c.removed])).toEqual([[1n, false], [2n, true]]);
  });

  it("sends one removal for a document that leaves and changes again within the batch, and none for a bystander", async () => {
    const v = await visibility([{ event: state("d", 1n, "alice"), supersededBy: 5n }, { event: state("x", 2n, "bob"), supersededBy: 6n }]);
    const out = await v.of(alice, [state("d", 5n, "bob"), state("x", 6n, "carol"), state("d", 7n, "carol")], { todos: 3n });
    expect(out.map((c) => [c.documentId, c.serverSequence, c.removed])).toEqual([["d", 5n, true]]);
  });

  it("sends nothing where the reader held no copy: position 0, a tombstone, or a state it could not read", async () => {
    const v = await visibility([{ event: state("gone", 1n, null), supersededBy: 5n }, { event: state("d", 1n, "alice"), supersededBy: 5n }]);
    expect(await v.of(alice, [state("d", 5n, "bob")], {})).toEqual([]);
    expect(await v.of(alice, [state("gone", 5n, "bob")], { todos: 3n })).toEqual([]);
    // A document created after the position: no state then.
    expect(await v.of(alice, [state("new", 6n, "bob")], { todos: 3n })).toEqual([]);
  });

  it("judges with an asynchronous rule too, and leaves everything alone without a per-document rule", async () => {
    const asyncRule: Authorize = async (...args) => ownerRule(...args);
    const v = await visibility([{ event: state("d", 1n, "alice"), supersededBy: 5n }], asyncRule);
    expect((await v.of(alice, [state("d", 5n, "bob")], { todos: 3n }))[0]?.removed).toBe(true);
    const storage = createMemoryStorage();
    await storage.open();
    expect(await new Visibility(storage, ownerRule, false).of(alice, [state("d", 1n, "alice"), state("d", 2n, "bob")], {})).toHaveLength(1);
  });
});

describe("kept states and retention", () => {
  it("refuses, rather than judges without it, a kept state purged after the changes were read", async () => {
    // Another server's purge may land between a page's read and the read of its kept states.
    const storage = createMemoryStorage();
    await storage.open();
    await commit(storage, { changes: [], superseded: [{ event: state("d", 1n, "alice"), supersededBy: 5n, supersededAtMs: 1 }], idempotency: [], lastSequence: 5n });
    const v = new Visibility(storage, ownerRule, true);
    expect((await v.of(alice, [state("d", 5n, "bob")], { todos: 3n }))[0]?.removed).toBe(true);
    await storage.purge(2);
    await expect(v.of(alice, [state("d", 5n, "bob")], { todos: 3n })).rejects.toMatchObject({ code: "failed_precondition", metadata: { collections: "todos" } });
  });

  it("refuses a checkpoint from before a purged kept state, naming its collection, and resumes a later one", async () => {
    let now = Date.now() + 60_000;
    const core = await SyncCore.open(createMemoryStorage(), { authorize: ownerRule, documentReadRule: true, now: () => now, tombstoneRetentionMs: 1_000 });
    const write = async (change: ReturnType<typeof pushed>) => {
      const [result] = (await core.push(alice, create(PushRequestSchema, { clientId: "a", changes: [change] }))).results;
      if (result?.outcome.case !== "accepted") throw new Error(`expected accepted, got ${result?.outcome.case}`);
      return result.outcome.value.revision;
    };
    const rev = await write(pushed("d", { owner: "alice" }, 1));
    const early = (await core.pull(alice, { collections: ["todos"] })).checkpoint!;
    await write(pushed("d", { owner: "bob" }, 2, { baseRevision: rev }));
    const late = (await core.pull(alice, { collections: ["todos"], checkpoint: early })).checkpoint!;
    now += 5_000;
    await core.purge();
    await expect(core.pull(alice, { collections: ["todos"], checkpoint: early })).rejects.toMatchObject({ code: "failed_precondition", metadata: { collections: "todos" } });
    expect((await core.pull(alice, { collections: ["todos"], checkpoint: late })).changes).toEqual([]);
  });
});
