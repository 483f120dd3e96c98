// A read rule renamed between two runs of the core on one data set (PROTOCOL
// §13.7): every position read before is refused, by pulls and streams, named
// collections or none; positions read after are resumed; a run under the same
// name refuses nothing.
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { PushRequestSchema, type Checkpoint } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { FanoutHub } from "../fanout/hub.js";
import { SubscriberSession, type StreamMessage, type StreamSink } from "../fanout/session.js";
import { pushed, tempDir } from "../serve/testing.js";
import { createLevelStorage } from "../storage/index.js";
import { SyncCore, type Authorize, type Principal, type SyncCoreOptions } from "./sync-core.js";

const alice: Principal = { id: "alice" };
const ownedBy = (field: string): Authorize => (principal, action, _collection, change) =>
  action === "write" || !change || change.deleted || [undefined, principal.id].includes((JSON.parse(change.document) as Record<string, string>)[field]);

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function dataSet() {
  const dir = tempDir();
  cleanups.push(dir.remove);
  return async (options: SyncCoreOptions) => {
    const core = await SyncCore.open(createLevelStorage(dir.path), options);
    cleanups.push(() => core.close());
    return core;
  };
}

/** Subscribes alice; what the stream delivers, as it comes: the changes' ids, and its checkpoints, heartbeats' included. */
async function subscribe(core: SyncCore, checkpoint: Checkpoint | undefined, collections: string[]) {
  const delivered: string[] = [];
  const checkpoints: Checkpoint[] = [];
  const sink: StreamSink = {
    send: (m: StreamMessage) => {
      const changes = m.kind === "live" ? m.changes : m.response.event.case === "changes" ? m.response.event.value.changes : [];
      delivered.push(...changes.map((c) => c.documentId));
      const at = m.kind === "live" ? m.checkpoint : m.response.event.value?.checkpoint;
      if (at) checkpoints.push(at);
      return true;
    },
    end: () => {},
  };
  const hub = new FanoutHub();
  cleanups.push(core.onCommit((changes, watermark) => hub.publish(changes, watermark)));
  const session = new SubscriberSession(core, hub, alice, { collections, checkpoint }, sink, { heartbeatMs: 20, pageSize: 10, maxQueuedChanges: 100 });
  cleanups.push(() => session.abandon());
  await session.open();
  return { delivered, checkpoints };
}

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition(); ) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("a renamed read rule", () => {
  it("refuses every position read under the old name, in pulls and streams, and none read after", async () => {
    const open = dataSet();
    let core = await open({ authorize: ownedBy("ownerId"), documentReadRule: true });
    await core.push(alice, create(PushRequestSchema, {
      clientId: "w",
      changes: [pushed("a", { ownerId: "alice" }, 1), pushed("n", { ownerId: "alice" }, 2, { collection: "notes" }), pushed("e", {}, 3, { collection: "empty-later" })],
    }));
    const named = (await core.pull(alice, { collections: ["todos"] })).checkpoint!;
    const every = (await core.pull(alice, { collections: [] })).checkpoint!;
    await core.close();

    // Same rule, same (default) name: both resume.
    core = await open({ authorize: ownedBy("ownerId"), documentReadRule: true });
    expect((await core.pull(alice, { collections: ["todos"], checkpoint: named })).changes).toEqual([]);
    expect((await core.pull(alice, { collections: [], checkpoint: every })).changes).toEqual([]);
    await core.close();

    core = await open({ authorize: ownedBy("teamId"), documentReadRule: true, readRuleName: "teamId" });
    await expect(core.pull(alice, { collections: ["todos"], checkpoint: named })).rejects.toMatchObject({ code: "failed_precondition", metadata: { collections: "todos" } });
    await expect(core.pull(alice, { collections: [], checkpoint: every })).rejects.toMatchObject({
      code: "failed_precondition",
      metadata: { collections: "empty-later,notes,todos" },
    });
    await expect(subscribe(core, named, ["todos"])).rejects.toMatchObject({ code: "failed_precondition" });
    await expect(subscribe(core, every, [])).rejects.toMatchObject({ code: "failed_precondition" });
    // Read after the rename: resumed, now and after another restart under the same name.
    const fresh = (await core.pull(alice, { collections: [] })).checkpoint!;
    expect((await core.pull(alice, { collections: [], checkpoint: fresh })).changes).toEqual([]);
    await subscribe(core, fresh, []);
    await core.close();
    core = await open({ authorize: ownedBy("teamId"), documentReadRule: true, readRuleName: "teamId" });
    expect((await core.pull(alice, { collections: [], checkpoint: fresh })).changes).toEqual([]);
    // A stream from scratch right after the rename: its checkpoints, a heartbeat's too, are resumed.
    const fromScratch = await subscribe(core, undefined, []);
    await until(() => fromScratch.checkpoints.length >= 3);
    for (const checkpoint of fromScratch.checkpoints) expect((await core.pull(alice, { collections: [], checkpoint })).changes).toEqual([]);
    // Writes go on above the sequence the rename took, and reach those readers, live ones too.
    const live = await subscribe(core, fresh, []);
    await core.push(alice, create(PushRequestSchema, { clientId: "w", changes: [pushed("b", { ownerId: "alice" }, 4)] }));
    expect((await core.pull(alice, { collections: [], checkpoint: fresh })).changes.map((c) => c.documentId)).toEqual(["b"]);
    await until(() => live.delivered.length > 0);
    expect(live.delivered).toEqual(["b"]);
  });
});
