// Access rules of the core (PROTOCOL §12.5, §13): a client id belongs to one
// principal, and a push never discloses or overwrites a document its
// principal may not read.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ChangeEventSchema, ErrorReason, Operation, PushRequestSchema, type ChangeResult } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createMemoryStorage } from "../storage/index.js";
import type { Storage } from "../storage/types.js";
import type { ServerConflictStrategy } from "./conflicts.js";
import { SyncFailure } from "./failures.js";
import { ANONYMOUS, SyncCore, type Authorize, type Principal, type SyncCoreOptions } from "./sync-core.js";

const alice: Principal = { id: "alice" };
const bob: Principal = { id: "bob" };
let wall = 1_700_000_000_000;

type ChangeInit = MessageInitShape<typeof ChangeEventSchema>;
function change(init: ChangeInit) {
  return create(ChangeEventSchema, { operation: Operation.UPDATE, collection: "todos", timestamp: { wallTimeMs: BigInt(wall++), logical: 0 }, ...init } as ChangeInit);
}
const insert = (documentId: string, document: object, clientSequence: bigint, extra: ChangeInit = {}) =>
  change({ operation: Operation.INSERT, documentId, document: JSON.stringify(document), clientSequence, ...extra });
const update = (documentId: string, document: object, clientSequence: bigint, baseRevision: string, extra: ChangeInit = {}) =>
  change({ documentId, document: JSON.stringify(document), clientSequence, baseRevision, ...extra });
const remove = (documentId: string, clientSequence: bigint, baseRevision: string) =>
  change({ operation: Operation.DELETE, documentId, document: "", clientSequence, baseRevision });

async function open(options: SyncCoreOptions = {}, storage: Storage = createMemoryStorage()) {
  return SyncCore.open(storage, { now: () => wall, ...options });
}
async function push(core: SyncCore, principal: Principal, clientId: string, ...changes: ReturnType<typeof change>[]) {
  return (await core.push(principal, create(PushRequestSchema, { clientId, changes }))).results;
}
function accepted(result: ChangeResult | undefined) {
  if (result?.outcome.case !== "accepted") throw new Error(`expected accepted, got ${result?.outcome.case}`);
  return result.outcome.value;
}
async function refusal(promise: Promise<unknown>): Promise<SyncFailure> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof SyncFailure)) throw new Error(`expected a SyncFailure, got ${String(error)}`);
  return error;
}

/** Storage whose commit groups wait for `release()`, to line pushes up in one group. */
function gatedStorage() {
  const inner = createMemoryStorage();
  let open = true;
  let release: () => void = () => {};
  let gate = Promise.resolve();
  const storage: Storage = Object.assign(Object.create(inner) as Storage, {
    open: () => inner.open(),
    close: () => inner.close(),
    async commitGroup<T>(...args: Parameters<Storage["commitGroup"]>) {
      if (!open) await gate;
      return inner.commitGroup<T>(...(args as [never, { sync: boolean }]));
    },
  });
  return {
    storage,
    hold() {
      open = false;
      gate = new Promise<void>((resolve) => (release = resolve));
    },
    release() {
      open = true;
      release();
    },
  };
}

describe("client ids belong to one principal", () => {
  it("refuses another principal's whole push the same way whether or not the keys it names exist, and writes nothing", async () => {
    const core = await open();
    accepted((await push(core, alice, "phone", insert("a1", { n: 1 }, 1n), insert("a2", { n: 2 }, 2n)))[0]);
    const before = core.visibleSequence;
    // One of alice's keys with other content, one of alice's keys with the
    // same content, and a key alice never used.
    const attempts = [
      push(core, bob, "phone", insert("b1", { junk: true }, 1n)),
      push(core, bob, "phone", insert("a2", { n: 2 }, 2n)),
      push(core, bob, "phone", insert("b3", { junk: true }, 3n), insert("b4", {}, 4n)),
    ];
    const failures = await Promise.all(attempts.map(refusal));
    for (const failure of failures) {
      expect(failure).toMatchObject({ code: "permission_denied", reason: ErrorReason.PERMISSION_DENIED, fields: [], metadata: {} });
      expect(failure.message).toBe(failures[0]!.message);
    }
    expect(failures[0]!.message).not.toMatch(/alice|sequence/);
    expect(core.visibleSequence).toBe(before);
    // Alice's client carries on: her next key is still hers, her old ones replay.
    accepted((await push(core, alice, "phone", insert("a3", { n: 3 }, 3n)))[0]);
    expect(accepted((await push(core, alice, "phone", insert("a1", { n: 1 }, 1n)))[0]).serverSequence).toBe(1n);
  });

  it("is bound by the first push that commits: a push that wrote nothing binds nothing", async () => {
    const core = await open({ authorize: (p, action, collection) => !(action === "write" && p.id === "bob" && collection === "locked") });
    const [rejected] = await push(core, bob, "fresh", insert("x", {}, 1n, { collection: "locked" }));
    expect(rejected?.outcome.case).toBe("rejected");
    accepted((await push(core, alice, "fresh", insert("x", {}, 1n)))[0]);
    await expect(push(core, bob, "fresh", insert("y", {}, 2n))).rejects.toMatchObject({ code: "permission_denied" });
  });

  it("lets exactly one of two principals racing for a fresh client id in one commit group win", async () => {
    const gated = gatedStorage();
    const core = await open({}, gated.storage);
    gated.hold();
    const first = push(core, alice, "other", insert("o", {}, 1n)); // holds the pipeline in its commit
    await new Promise((r) => setTimeout(r, 10));
    const racers = [push(core, alice, "contested", insert("a", {}, 1n)), push(core, bob, "contested", insert("b", {}, 1n))];
    await new Promise((r) => setTimeout(r, 10));
    gated.release();
    await first;
    const outcomes = await Promise.allSettled(racers);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected"]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: "permission_denied" });
    expect(core.visibleSequence).toBe(2n);
    expect(await gated.storage.getClientOwner("contested")).toBe("alice");
  });

  it("binds a client id written before bindings existed at its next use", async () => {
    const storage = createMemoryStorage();
    const core = await open({}, storage);
    // Anonymous pushes record no binding, as data from before this rule.
    accepted((await push(core, ANONYMOUS, "legacy", insert("l1", {}, 1n)))[0]);
    expect(await storage.getClientOwner("legacy")).toBeUndefined();
    // A replay alone binds too: the key space is in use.
    accepted((await push(core, alice, "legacy", insert("l1", {}, 1n)))[0]);
    expect(await storage.getClientOwner("legacy")).toBe("alice");
    await expect(push(core, bob, "legacy", insert("b", {}, 2n))).rejects.toMatchObject({ code: "permission_denied" });
  });

  it("leaves anonymous mode alone: one principal, no bindings to trip over when authentication is turned on or off", async () => {
    const storage = createMemoryStorage();
    const core = await open({}, storage);
    accepted((await push(core, alice, "switched", insert("s1", {}, 1n)))[0]);
    accepted((await push(core, ANONYMOUS, "switched", insert("s2", {}, 2n)))[0]);
    accepted((await push(core, ANONYMOUS, "anon", insert("s3", {}, 1n)))[0]);
    expect(await storage.getClientOwner("anon")).toBeUndefined();
  });
});

describe("documents the principal may not read", () => {
  // Documents carry their owner; a tombstone keeps no document, so its
  // deleting client's id names the owner here (clients are "<owner>-...").
  const ownerOf = (c: ReturnType<typeof change>) => (c.deleted ? c.clientId.split("-")[0] : (JSON.parse(c.document) as { owner?: string }).owner);
  const byOwner: Authorize = (principal, action, _collection, c) => {
    if (!c || principal.id === "admin") return true;
    if (action === "read") return ownerOf(c) === principal.id;
    return c.operation === Operation.DELETE || ownerOf(c) === principal.id;
  };

  async function seeded(strategy: ServerConflictStrategy) {
    const core = await open({ authorize: byOwner, conflicts: { default: strategy } });
    const created = accepted((await push(core, alice, "alice-1", insert("mine", { owner: "alice", secret: "s1" }, 1n)))[0]);
    const edited = accepted((await push(core, alice, "alice-1", update("mine", { owner: "alice", secret: "s2" }, 2n, created.revision)))[0]);
    accepted((await push(core, alice, "alice-1", insert("gone", { owner: "alice" }, 3n)))[0]);
    accepted((await push(core, alice, "alice-1", remove("gone", 4n, "1-3")))[0]);
    return { core, revision: edited.revision };
  }

  const strategies: ServerConflictStrategy[] = ["report", "last-write-wins", "server-wins", "client-wins", "merge"];
  it.each(strategies)("refuses every write to one under %s exactly as a refused write, disclosing and writing nothing", async (strategy) => {
    const { core, revision } = await seeded(strategy);
    const before = core.visibleSequence;
    // The answer a refused write gets: bob writing a document he would not own.
    const [refusedWrite] = await push(core, bob, "bob-0", insert("fresh", { owner: "alice" }, 1n));
    const expected = refusedWrite!.outcome;
    expect(expected.case).toBe("rejected");
    const attempts = [
      insert("mine", { owner: "bob" }, 1n), // an insert on its id
      update("mine", { owner: "bob" }, 2n, revision), // an update with the right (guessable) revision
      update("mine", { owner: "bob" }, 3n, "1-1"), // an update from an old revision (a conflict)
      remove("mine", 4n, revision), // a delete
      insert("gone", { owner: "bob" }, 5n), // an insert over its tombstone
    ];
    const results = await push(core, bob, "bob-1", ...attempts);
    results.forEach((result, i) => {
      expect(result.outcome.case).toBe("rejected");
      if (result.outcome.case !== "rejected" || expected.case !== "rejected") return;
      expect({ ...result.outcome.value, message: result.outcome.value.message.replace(attempts[i]!.documentId, "fresh") }).toEqual(expected.value);
      expect(result.outcome.value.code).toBe(7);
      expect(result.outcome.value.reason).toBe("ERROR_REASON_PERMISSION_DENIED");
      expect(JSON.stringify(result, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value))).not.toMatch(/alice|s2|s1|"1-|"2-/);
    });
    expect(core.visibleSequence).toBe(before);
    const page = await core.pull(alice, { collections: ["todos"] });
    expect(page.changes.find((c) => c.documentId === "mine")?.document).toBe('{"owner":"alice","secret":"s2"}');
    // Nothing was recorded: the same keys with other content are judged afresh.
    const [again] = await push(core, bob, "bob-1", insert("elsewhere", { owner: "bob" }, 1n));
    accepted(again);
  });

  it("still replays the principal's own recorded outcomes", async () => {
    const { core, revision } = await seeded("client-wins");
    const mine = update("mine", { owner: "alice", secret: "s3" }, 10n, "1-1");
    const [first] = await push(core, alice, "alice-1", mine);
    expect(first?.outcome.case).toBe("resolved");
    expect(revision).not.toBe("");
    const [replayed] = await push(core, alice, "alice-1", mine);
    expect(replayed).toEqual(first);
  });

  it("merges without a base the principal may not read, so a guess about it cannot be tested", async () => {
    const core = await open({ authorize: byOwner, conflicts: { default: "merge" } });
    // Bob's document with a secret, then handed over to alice without it.
    const admin = { id: "admin" };
    const created = accepted((await push(core, admin, "admin-1", insert("d", { owner: "bob", secret: "hunter2" }, 1n)))[0]);
    accepted((await push(core, admin, "admin-1", update("d", { owner: "alice" }, 2n, created.revision)))[0]);
    // Alice pushes against bob's old revision, guessing the secret right.
    // Three-way against that base would drop the key (she "did not change"
    // it), telling her the guess was right; without the base it is hers.
    const [result] = await push(core, alice, "alice-1", update("d", { owner: "alice", secret: "hunter2" }, 1n, created.revision));
    expect(result?.outcome.case).toBe("resolved");
    expect(result?.outcome.case === "resolved" && JSON.parse(result.outcome.value.current!.document)).toEqual({ owner: "alice", secret: "hunter2" });
  });

  it("merges three-way against a base the principal may read", async () => {
    const core = await open({ authorize: byOwner, conflicts: { default: "merge" } });
    const created = accepted((await push(core, alice, "alice-1", insert("d", { owner: "alice", note: "x" }, 1n)))[0]);
    accepted((await push(core, alice, "alice-1", update("d", { owner: "alice" }, 2n, created.revision)))[0]);
    const [result] = await push(core, alice, "alice-2", update("d", { owner: "alice", note: "x" }, 1n, created.revision));
    expect(result?.outcome.case === "resolved" && JSON.parse(result.outcome.value.current!.document)).toEqual({ owner: "alice" });
  });
});
