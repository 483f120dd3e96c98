// Per-document read rules with move-in and move-out (PROTOCOL §13.6), over
// the wire, on LevelDB and PostgreSQL: a document whose owner changes leaves
// the old owner's devices (a removal, not a delete), reaches the new owner's
// in its current state, and nobody else hears of it.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Authorize } from "../core/sync-core.js";
import { createLevelStorage, createPostgresStorage, type Storage } from "../storage/index.js";
import { staticTokenAuthenticator } from "./auth.js";
import { eventually, pushed, startServer, syncClient, tempDir, type RunningServer } from "./testing.js";
import { PullingDevice, StreamingDevice, stopStreamingDevices } from "./testing-devices.js";

/** Each principal reads the documents it owns; everyone may write what it can read (§13.4). */
const ownerRule: Authorize = (principal, action, _collection, change) => {
  if (action === "write" || !change) return true;
  if (change.deleted) return true;
  return (JSON.parse(change.document) as { owner?: string }).owner === principal.id;
};

const postgresUrl = process.env.POCKET_TEST_POSTGRES_URL;
const schemas: string[] = [];
afterAll(async () => {
  if (!postgresUrl || schemas.length === 0) return;
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    for (const schema of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  stopStreamingDevices();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const backends: Array<[string, () => Storage]> = [
  ["level", () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    return createLevelStorage(dir.path);
  }],
];
if (postgresUrl) {
  backends.push(["postgres", () => {
    const schema = `pocket_test_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
    schemas.push(schema);
    return createPostgresStorage({ connectionString: postgresUrl, schema });
  }]);
}

const TOKENS = { "t-alice": { id: "alice" }, "t-bob": { id: "bob" }, "t-carol": { id: "carol" } } as const;

async function start(storage: Storage): Promise<RunningServer> {
  const running = await startServer({ storage, authenticate: staticTokenAuthenticator(TOKENS), authorize: ownerRule, documentReadRule: true });
  cleanups.push(() => running.close());
  return running;
}

describe.each(backends)("read rules on %s", (_name, storage) => {
  it("moves a document out of its old owner's devices and into its new owner's, telling nobody else", async () => {
    const { url } = await start(storage());
    const pullers = { alice: new PullingDevice(url, { token: "t-alice", limit: 2 }), bob: new PullingDevice(url, { token: "t-bob", limit: 2 }), carol: new PullingDevice(url, { token: "t-carol", limit: 2 }) };
    const streams = { alice: new StreamingDevice(url, { token: "t-alice" }), bob: new StreamingDevice(url, { token: "t-bob" }), carol: new StreamingDevice(url, { token: "t-carol" }) };
    await eventually(() => Object.values(streams).every((s) => s.caughtUp), 5_000, "streams to open");
    const alice = syncClient(url, "connect-proto-h2", "t-alice");
    const bob = syncClient(url, "connect-proto-h2", "t-bob");

    const created = (await alice.push({ clientId: "alice-1", changes: [pushed("d", { owner: "alice", v: 1 }, 1)] })).results[0]!;
    expect(created.outcome.case).toBe("accepted");
    const rev1 = created.outcome.case === "accepted" ? created.outcome.value.revision : "";
    await Promise.all(Object.values(pullers).map((p) => p.sync()));
    await eventually(() => streams.alice.held.has("d"), 5_000, "alice's stream to receive d");
    expect(pullers.alice.held.get("d")).toBe('{"owner":"alice","v":1}');

    // Alice gives the document to Bob.
    const given = (await alice.push({ clientId: "alice-1", changes: [pushed("d", { owner: "bob", v: 2 }, 2, { baseRevision: rev1 })] })).results[0]!;
    expect(given.outcome.case).toBe("accepted");
    const rev2 = given.outcome.case === "accepted" ? given.outcome.value.revision : "";
    await Promise.all(Object.values(pullers).map((p) => p.sync()));
    await eventually(() => !streams.alice.held.has("d") && streams.bob.held.has("d"), 5_000, "the move on the streams");
    for (const device of [pullers.alice, streams.alice]) {
      expect(device.held.has("d")).toBe(false);
      const removal = device.events.at(-1)!;
      // A removal carries nothing of the state the principal may not read (§13.4).
      expect(removal).toMatchObject({ documentId: "d", collection: "todos", removed: true, deleted: true, document: "", revision: "", clientId: "" });
      expect(removal.timestamp).toBeUndefined();
    }
    for (const device of [pullers.bob, streams.bob]) {
      expect(device.held.get("d")).toBe('{"owner":"bob","v":2}');
      expect(device.events.map((e) => e.revision)).toEqual([rev2]);
    }
    for (const device of [pullers.carol, streams.carol]) expect(device.events).toEqual([]);

    // Bob changes it again: Alice hears nothing more; then gives it back.
    const edited = (await bob.push({ clientId: "bob-1", changes: [pushed("d", { owner: "bob", v: 3 }, 1, { baseRevision: rev2 })] })).results[0]!;
    const rev3 = edited.outcome.case === "accepted" ? edited.outcome.value.revision : "";
    await bob.push({ clientId: "bob-1", changes: [pushed("d", { owner: "alice", v: 4 }, 2, { baseRevision: rev3 })] });
    await Promise.all(Object.values(pullers).map((p) => p.sync()));
    await eventually(() => streams.alice.held.has("d") && !streams.bob.held.has("d"), 5_000, "the move back on the streams");
    for (const device of [pullers.alice, streams.alice]) {
      expect(device.held.get("d")).toBe('{"owner":"alice","v":4}');
      expect(device.events.filter((e) => e.removed).length).toBe(1);
    }
    for (const device of [pullers.bob, streams.bob]) expect(device.events.at(-1)).toMatchObject({ removed: true, documentId: "d" });
    expect(pullers.alice.events.length).toBe(3); // v1, the removal, v4: v3 never reached Alice
    for (const device of [pullers.carol, streams.carol]) expect(device.events).toEqual([]);
  });

  it("removes a document from a device that was away while it passed through other hands, and tells a bystander nothing", async () => {
    const { url } = await start(storage());
    const away = new PullingDevice(url, { token: "t-alice", limit: 2 });
    const bystander = new PullingDevice(url, { token: "t-bob", limit: 2 }); // owns it briefly, but never syncs then
    const alice = syncClient(url, "connect-proto-h2", "t-alice");
    const carol = syncClient(url, "connect-proto-h2", "t-carol");
    const r1 = (await alice.push({ clientId: "alice-1", changes: [pushed("d", { owner: "alice" }, 1), pushed("keep", { owner: "alice" }, 2)] })).results;
    await away.sync();
    await bystander.sync();
    const rev = (i: number, results: typeof r1) => (results[i]!.outcome.case === "accepted" ? results[i]!.outcome.value.revision : "");
    const r2 = (await alice.push({ clientId: "alice-1", changes: [pushed("d", { owner: "bob" }, 3, { baseRevision: rev(0, r1) })] })).results;
    const asBob = syncClient(url, "connect-proto-h2", "t-bob");
    const r3 = (await asBob.push({ clientId: "bob-1", changes: [pushed("d", { owner: "carol" }, 1, { baseRevision: rev(0, r2) })] })).results;
    expect(r3[0]!.outcome.case).toBe("accepted");
    await carol.push({ clientId: "carol-1", changes: [pushed("d", { owner: "carol", n: 2 }, 1, { baseRevision: rev(0, r3) })] });
    await away.sync();
    await bystander.sync();
    expect([...away.held.keys()]).toEqual(["keep"]);
    expect(away.events.filter((e) => e.removed).map((e) => e.documentId)).toEqual(["d"]);
    // Bob held nothing at his checkpoint: no removal, no id.
    expect(bystander.events).toEqual([]);
  });
});

describe.runIf(postgresUrl)("read rules across servers on one PostgreSQL schema", () => {
  it("delivers a move made through one server to the devices of another, live and on pull, from what the storage kept", async () => {
    const schema = `pocket_test_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
    schemas.push(schema);
    const shared = () => createPostgresStorage({ connectionString: postgresUrl!, schema });
    // Devices on one server; every write through the other, which alone saw them as pushes.
    const writer = await start(shared());
    const reader = await start(shared());
    const streams = { alice: new StreamingDevice(reader.url, { token: "t-alice" }), bob: new StreamingDevice(reader.url, { token: "t-bob" }), carol: new StreamingDevice(reader.url, { token: "t-carol" }) };
    await eventually(() => Object.values(streams).every((s) => s.caughtUp), 5_000, "streams to open");
    const alicePuller = new PullingDevice(reader.url, { token: "t-alice", limit: 2 });
    const alice = syncClient(writer.url, "connect-proto-h2", "t-alice");

    const created = (await alice.push({ clientId: "alice-1", changes: [pushed("d", { owner: "alice", v: 1 }, 1)] })).results[0]!;
    const rev1 = created.outcome.case === "accepted" ? created.outcome.value.revision : "";
    await eventually(() => streams.alice.held.has("d"), 5_000, "alice's stream on the other server to receive d");
    await alicePuller.sync();
    expect(alicePuller.held.has("d")).toBe(true);

    await alice.push({ clientId: "alice-1", changes: [pushed("d", { owner: "bob", v: 2 }, 2, { baseRevision: rev1 })] });
    await eventually(() => !streams.alice.held.has("d") && streams.bob.held.has("d"), 5_000, "the move on the other server's streams");
    await alicePuller.sync();
    for (const device of [streams.alice, alicePuller]) {
      expect(device.held.has("d")).toBe(false);
      expect(device.events.at(-1)).toMatchObject({ documentId: "d", removed: true, document: "" });
    }
    expect(streams.bob.held.get("d")).toBe('{"owner":"bob","v":2}');
    expect(streams.carol.events).toEqual([]);
  });
});
