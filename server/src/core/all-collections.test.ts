// Pull and Subscribe with an empty collection list: every collection the
// principal may read, including collections created after the checkpoint
// (PROTOCOL §4.8).
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { PushRequestSchema, type ChangeEvent, type Checkpoint } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { FanoutHub } from "../fanout/hub.js";
import { SubscriberSession, type StreamMessage, type StreamSink } from "../fanout/session.js";
import { pushed } from "../serve/testing.js";
import { createMemoryStorage } from "../storage/index.js";
import { SyncCore, type Authorize, type Principal } from "./sync-core.js";

const alice: Principal = { id: "alice" };
const bob: Principal = { id: "bob" };
/** Bob may not read "secret"; everyone may write everything. */
const authorize: Authorize = (principal, action, collection) => action === "write" || principal.id !== "bob" || collection !== "secret";

async function setup() {
  const core = await SyncCore.open(createMemoryStorage(), { authorize });
  const hub = new FanoutHub();
  core.onCommit((changes, watermark) => hub.publish(changes, watermark));
  let sequence = 0;
  const write = (collection: string, id: string) =>
    core.push(alice, create(PushRequestSchema, { clientId: "w", changes: [pushed(id, { id }, ++sequence, { collection })] }));
  return { core, hub, write };
}

const keys = (changes: readonly ChangeEvent[]) => changes.map((c) => `${c.collection}/${c.documentId}`);

async function pullAll(core: SyncCore, principal: Principal, checkpoint?: Checkpoint, limit = 2) {
  const seen: string[] = [];
  for (let guard = 0; guard < 50; guard++) {
    const page = await core.pull(principal, { collections: [], checkpoint, limit });
    seen.push(...keys(page.changes));
    checkpoint = page.checkpoint;
    if (!page.hasMore) return { seen, checkpoint: checkpoint! };
  }
  throw new Error("pull never ended");
}

describe("pull with no collections named", () => {
  it("returns every collection the principal may read, skips the others without failing, and pages across them", async () => {
    const { core, write } = await setup();
    await write("todos", "t1");
    await write("secret", "s1");
    await write("notes", "n1");
    await write("todos", "t2");
    expect((await pullAll(core, alice)).seen).toEqual(["todos/t1", "secret/s1", "notes/n1", "todos/t2"]);
    const forBob = await pullAll(core, bob);
    expect(forBob.seen).toEqual(["todos/t1", "notes/n1", "todos/t2"]);
    // Positions for what it read; none for a collection it may not read.
    expect(forBob.checkpoint.collections).toEqual({ todos: 4n, notes: 4n });
  });

  it("starts a collection created after the checkpoint from the beginning", async () => {
    const { core, write } = await setup();
    await write("todos", "t1");
    const first = await pullAll(core, alice);
    await write("todos", "t2");
    await write("fresh", "f1");
    await write("fresh", "f2");
    const next = await pullAll(core, alice, first.checkpoint);
    expect(next.seen).toEqual(["todos/t2", "fresh/f1", "fresh/f2"]);
    expect((await pullAll(core, alice, next.checkpoint)).seen).toEqual([]);
  });

  it("keeps the positions of a named pull, and a named pull keeps those of an unnamed one", async () => {
    const { core, write } = await setup();
    await write("todos", "t1");
    await write("notes", "n1");
    const named = await core.pull(alice, { collections: ["todos"] });
    const all = await pullAll(core, alice, named.checkpoint);
    expect(all.seen).toEqual(["notes/n1"]);
    await write("notes", "n2");
    const again = await core.pull(alice, { collections: ["notes"], checkpoint: all.checkpoint });
    expect(keys(again.changes)).toEqual(["notes/n2"]);
  });

  it("asks for a resync of the purged collections it reads, by name", async () => {
    let now = Date.now() + 60_000; // ahead of the test timestamps
    const core = await SyncCore.open(createMemoryStorage(), { now: () => now, tombstoneRetentionMs: 1_000 });
    const write = (change: ReturnType<typeof pushed>) => core.push(alice, create(PushRequestSchema, { clientId: "w", changes: [change] }));
    await write(pushed("x", {}, 1, { collection: "todos" }));
    await write(pushed("y", {}, 2, { collection: "notes" }));
    const early = (await core.pull(alice, { collections: [] })).checkpoint!;
    await write(pushed("x", null, 3, { collection: "todos", baseRevision: "1-1" }));
    now += 5_000;
    expect((await core.purge()).tombstonesPurged).toBe(1);
    await expect(core.pull(alice, { collections: [], checkpoint: early })).rejects.toMatchObject({
      code: "failed_precondition",
      metadata: { collections: "todos" },
    });
  });
});

class RecordingSink implements StreamSink {
  readonly messages: StreamMessage[] = [];
  send(message: StreamMessage): boolean {
    this.messages.push(message);
    return true;
  }
  end(): void {}
  changes(): ChangeEvent[] {
    return this.messages.flatMap((m) => (m.kind === "live" ? [...m.changes] : m.response.event.case === "changes" ? m.response.event.value.changes : []));
  }
  checkpoint(): Checkpoint | undefined {
    const last = this.messages.at(-1);
    return last && (last.kind === "live" ? last.checkpoint : last.response.event.value?.checkpoint);
  }
}

const sessions: SubscriberSession[] = [];
afterEach(() => sessions.splice(0).forEach((s) => s.abandon()));

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe("subscribe with no collections named", () => {
  async function subscribe(core: SyncCore, hub: FanoutHub, principal: Principal, checkpoint?: Checkpoint, maxQueuedChanges = 100) {
    const sink = new RecordingSink();
    const session = new SubscriberSession(core, hub, principal, { collections: [], checkpoint }, sink, { heartbeatMs: 10_000, pageSize: 2, maxQueuedChanges });
    sessions.push(session);
    await session.open();
    await until(() => sink.messages.length > 0);
    return sink;
  }

  it("catches up on every readable collection, then follows them and collections created later", async () => {
    const { core, hub, write } = await setup();
    await write("todos", "t1");
    await write("secret", "s1");
    await write("notes", "n1");
    const sink = await subscribe(core, hub, bob);
    await until(() => sink.changes().length === 2);
    await write("later", "l1");
    await write("secret", "s2");
    await write("todos", "t2");
    await until(() => sink.changes().length === 4);
    expect(keys(sink.changes())).toEqual(["todos/t1", "notes/n1", "later/l1", "todos/t2"]);
    // The checkpoint covers the new collection, and resuming from it repeats nothing.
    const checkpoint = sink.checkpoint()!;
    expect(checkpoint.collections).toMatchObject({ todos: 6n, notes: 6n, later: 6n });
    expect(checkpoint.collections.secret).toBeUndefined();
    expect((await core.pull(bob, { collections: [], checkpoint })).changes).toEqual([]);
  });

  it("catches up from storage after overflowing, including collections it had not seen", async () => {
    const { core, hub, write } = await setup();
    const sink = await subscribe(core, hub, alice, undefined, 1);
    // More than the queue holds arrives while the stream is live: it falls back to storage.
    await Promise.all([write("a", "1"), write("b", "2"), write("c", "3"), write("a", "4")]);
    await until(() => sink.changes().length >= 4);
    expect(new Set(keys(sink.changes()))).toEqual(new Set(["a/1", "b/2", "c/3", "a/4"]));
    expect(sink.checkpoint()?.collections).toMatchObject({ a: 4n, b: 4n, c: 4n });
  });
});

describe("a checkpoint from another data set, naming no collection", () => {
  it("is refused even when the server holds no collection, naming those the checkpoint holds", async () => {
    const { core, hub } = await setup();
    const foreign = { ...(await core.pull(alice, { collections: [] })).checkpoint!, epoch: "another", collections: { todos: 3n } };
    await expect(core.pull(alice, { collections: [], checkpoint: foreign })).rejects.toMatchObject({ code: "failed_precondition", metadata: { collections: "todos" } });
    const session = new SubscriberSession(core, hub, alice, { collections: [], checkpoint: foreign }, new RecordingSink(), { heartbeatMs: 10_000, pageSize: 2, maxQueuedChanges: 10 });
    sessions.push(session);
    await expect(session.open()).rejects.toMatchObject({ code: "failed_precondition" });
  });
});

describe("a collection the principal may no longer read, naming no collection", () => {
  it("asks for a resync of it, so the client drops its copies; a named pull of it is refused as before", async () => {
    const readable = new Set(["todos", "notes"]);
    const core = await SyncCore.open(createMemoryStorage(), { authorize: (_p, action, collection) => action === "write" || readable.has(collection) });
    let sequence = 0;
    for (const collection of ["todos", "notes"]) {
      await core.push(alice, create(PushRequestSchema, { clientId: "w", changes: [pushed(`${collection}-1`, {}, ++sequence, { collection })] }));
    }
    const before = (await core.pull(alice, { collections: [] })).checkpoint!;
    expect(before.collections).toMatchObject({ todos: 2n, notes: 2n });
    readable.delete("notes"); // its grants shrank
    await expect(core.pull(alice, { collections: [], checkpoint: before })).rejects.toMatchObject({ code: "failed_precondition", metadata: { collections: "notes" } });
    const { hub } = await setup();
    const session = new SubscriberSession(core, hub, alice, { collections: [], checkpoint: before }, new RecordingSink(), { heartbeatMs: 10_000, pageSize: 2, maxQueuedChanges: 10 });
    sessions.push(session);
    await expect(session.open()).rejects.toMatchObject({ code: "failed_precondition" });
    await expect(core.pull(alice, { collections: ["notes"], checkpoint: before })).rejects.toMatchObject({ code: "permission_denied" });
    // The resync's pull from the beginning holds no position for it: nothing more to refuse.
    const fresh = (await core.pull(alice, { collections: [] })).checkpoint!;
    expect(fresh.collections.notes).toBeUndefined();
    expect((await core.pull(alice, { collections: [], checkpoint: fresh })).changes).toEqual([]);
  });
});
