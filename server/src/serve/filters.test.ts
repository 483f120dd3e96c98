// Filtered Pull and Subscribe (PROTOCOL §4.10–4.12), over the wire, on
// LevelDB and PostgreSQL: a document whose field stops matching leaves the
// devices filtering on its old value (a removal, not a delete), reaches those
// filtering on the new one in its current state, and nobody else hears of it;
// a changed filter resyncs; a filter never widens what a principal may read;
// and a filter is read from an index, built at start on existing data.
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { PushResponse } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { Authorize } from "../core/sync-core.js";
import { createLevelStorage, type Storage } from "../storage/index.js";
import { dropSchemas, freshSchema, postgresStorage, postgresUrl } from "../storage/testing.js";
import type { IndexSpec } from "../storage/index-values.js";
import { staticTokenAuthenticator } from "./auth.js";
import { eventually, pushed, startServer, syncClient, tempDir, type RunningServer } from "./testing.js";
import { PullingDevice, StreamingDevice, stopStreamingDevices } from "./testing-devices.js";

afterAll(dropSchemas);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  stopStreamingDevices();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A storage factory that reopens the same data on every call. */
const backends: Array<[string, () => () => Storage]> = [
  ["level", () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    return () => createLevelStorage(dir.path);
  }],
];
if (postgresUrl) {
  backends.push(["postgres", () => {
    const schema = freshSchema();
    return () => postgresStorage(schema);
  }]);
}

const TOKENS = { "t-alice": { id: "alice" }, "t-bob": { id: "bob" } } as const;
const LIST: IndexSpec[] = [{ collection: "*", field: "list" }];

/** Alice reads everything; Bob reads no document marked secret. */
const secretRule: Authorize = (principal, action, _collection, change) => {
  if (action === "write" || !change || change.deleted || principal.id === "alice") return true;
  return (JSON.parse(change.document) as { secret?: boolean }).secret !== true;
};

async function start(storage: Storage, options: { indexes?: IndexSpec[]; authorize?: Authorize } = {}): Promise<RunningServer> {
  const running = await startServer({ storage, authenticate: staticTokenAuthenticator(TOKENS), indexes: options.indexes ?? LIST, ...(options.authorize ? { authorize: options.authorize, documentReadRule: true } : {}) });
  cleanups.push(() => running.close());
  return running;
}

const listFilter = (...values: string[]) => ({ todos: { conditions: [{ field: "list", values: values.map((v) => JSON.stringify(v)) }] } });

const revision = (response: PushResponse, i = 0) => {
  const outcome = response.results[i]!.outcome;
  if (outcome.case !== "accepted") throw new Error(`push not accepted: ${outcome.case}`);
  return outcome.value.revision;
};

describe.each(backends)("filters on %s", (_name, backend) => {
  it("moves a document out of the devices filtering on its old value and into those on its new one, telling nobody else", async () => {
    const { url } = await start(backend()());
    const pullers = { a: new PullingDevice(url, { token: "t-alice", filters: listFilter("a") }), b: new PullingDevice(url, { token: "t-alice", filters: listFilter("b") }), c: new PullingDevice(url, { token: "t-alice", filters: listFilter("c") }) };
    const streams = { a: new StreamingDevice(url, { token: "t-alice", filters: listFilter("a") }), b: new StreamingDevice(url, { token: "t-alice", filters: listFilter("b") }), c: new StreamingDevice(url, { token: "t-alice", filters: listFilter("c") }) };
    await eventually(() => Object.values(streams).every((s) => s.caughtUp), 5_000, "streams to open");
    const writer = syncClient(url, "connect-proto-h2", "t-alice");
    let seq = 0;
    const write = async (id: string, doc: object, base = "") => revision(await writer.push({ clientId: "w", changes: [pushed(id, doc, ++seq, { baseRevision: base })] }));
    const syncAll = () => Promise.all(Object.values(pullers).map((p) => p.sync()));

    const r1 = await write("d", { list: "a", v: 1 });
    await write("other", { list: "x" });
    await syncAll();
    await eventually(() => streams.a.held.has("d"), 5_000, "list a's stream to receive d");
    expect([...pullers.a.held]).toEqual([["d", '{"list":"a","v":1}']]);

    // d moves from list a to list b.
    const r2 = await write("d", { list: "b", v: 2 }, r1);
    await syncAll();
    await eventually(() => !streams.a.held.has("d") && streams.b.held.has("d"), 5_000, "the move on the streams");
    for (const device of [pullers.a, streams.a]) {
      expect(device.held.has("d")).toBe(false);
      expect(device.events.at(-1)).toMatchObject({ documentId: "d", removed: true, deleted: true, document: "", revision: "" });
    }
    for (const device of [pullers.b, streams.b]) {
      expect(device.held.get("d")).toBe('{"list":"b","v":2}');
      expect(device.events.map((e) => e.revision)).toEqual([r2]);
    }
    for (const device of [pullers.c, streams.c]) expect(device.events).toEqual([]);

    // Edited within b: a hears nothing; then deleted: b deletes it (a tombstone, not a removal).
    const r3 = await write("d", { list: "b", v: 3 }, r2);
    await writer.push({ clientId: "w", changes: [pushed("d", null, ++seq, { baseRevision: r3 })] });
    await syncAll();
    await eventually(() => !streams.b.held.has("d"), 5_000, "the delete on b's stream");
    for (const device of [pullers.b, streams.b]) expect(device.events.at(-1)).toMatchObject({ documentId: "d", deleted: true, removed: false });
    expect(pullers.a.events.length).toBe(2);
    for (const device of [pullers.c, streams.c]) expect(device.events).toEqual([]);
    for (const device of Object.values(streams)) expect(device.error).toBeUndefined();
  });

  it("removes a document once from a device that was away while it moved through several values, and a device that never held it hears nothing", async () => {
    const { url } = await start(backend()());
    const away = new PullingDevice(url, { token: "t-alice", filters: listFilter("a") });
    const never = new PullingDevice(url, { token: "t-alice", filters: listFilter("b") });
    const writer = syncClient(url, "connect-proto-h2", "t-alice");
    const r1 = revision(await writer.push({ clientId: "w", changes: [pushed("d", { list: "a" }, 1), pushed("keep", { list: "a" }, 2)] }));
    await away.sync();
    await never.sync();
    const r2 = revision(await writer.push({ clientId: "w", changes: [pushed("d", { list: "b" }, 3, { baseRevision: r1 })] }));
    await writer.push({ clientId: "w", changes: [pushed("d", { list: "c" }, 4, { baseRevision: r2 })] });
    await away.sync();
    await never.sync();
    expect([...away.held.keys()]).toEqual(["keep"]);
    expect(away.events.filter((e) => e.removed).map((e) => e.documentId)).toEqual(["d"]);
    // d was in list b only between two syncs: its id never reached the b device.
    expect(never.events).toEqual([]);
  });

  it("pages through a filter with a small limit among many documents that do not match, each matching one delivered", async () => {
    const { url } = await start(backend()());
    const writer = syncClient(url, "connect-proto-h2", "t-alice");
    let seq = 0;
    const hot = new Set<string>();
    for (let batch = 0; batch < 6; batch++) {
      const changes = Array.from({ length: 50 }, (_, i) => {
        const id = `doc-${batch}-${i}`;
        const list = i % 10 === 3 ? "hot" : `cold-${i}`;
        if (list === "hot") hot.add(id);
        return pushed(id, { list, i }, ++seq);
      });
      await writer.push({ clientId: "w", changes });
    }
    const device = new PullingDevice(url, { token: "t-alice", filters: listFilter("hot", "warm"), limit: 4 });
    await device.sync();
    expect(new Set(device.held.keys())).toEqual(hot);
    for (const event of device.events) expect(JSON.parse(event.document)).toMatchObject({ list: "hot" });
  });

  it("asks for a resync when the filter changed since the checkpoint, and resumes under the same filter written otherwise", async () => {
    const { url } = await start(backend()(), { indexes: [{ collection: "*", field: "list" }, { collection: "todos", field: "tag" }] });
    const writer = syncClient(url, "connect-proto-h2", "t-alice");
    await writer.push({ clientId: "w", changes: [pushed("d", { list: "a", tag: 1 }, 1)] });
    const client = syncClient(url, "connect-proto-h2", "t-alice");
    const first = await client.pull({ collections: ["todos"], filters: { todos: { conditions: [{ field: "list", values: ['"a"', '"b"'] }, { field: "tag", values: ["1"] }] } } });
    expect(first.changes.map((c) => c.documentId)).toEqual(["d"]);
    expect(Object.keys(first.checkpoint!.filters)).toEqual(["todos"]);
    // The same filter, conditions and values reordered, values repeated and 1 written as 1.0.
    const same = { todos: { conditions: [{ field: "tag", values: ["1.0", "1"] }, { field: "list", values: ['"b"', '"a"', '"a"'] }] } };
    await expect(client.pull({ collections: ["todos"], checkpoint: first.checkpoint, filters: same })).resolves.toMatchObject({ changes: [] });
    for (const other of [listFilter("a"), {}]) {
      const refused = await client.pull({ collections: ["todos"], checkpoint: first.checkpoint, filters: other }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ConnectError);
      expect((refused as ConnectError).code).toBe(Code.FailedPrecondition);
      expect((refused as ConnectError).message).toContain("todos");
    }
    // From the beginning, any filter will do.
    await expect(client.pull({ collections: ["todos"], filters: listFilter("z") })).resolves.toMatchObject({ changes: [] });
  });

  it("refuses malformed filters with invalid_argument naming the field, and filters on no index with FILTER_NOT_INDEXED", async () => {
    const { url } = await start(backend()());
    const client = syncClient(url, "connect-proto-h2", "t-alice");
    const refusal = async (request: Parameters<typeof client.pull>[0]) => {
      const error = await client.pull(request).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectError);
      return error as ConnectError;
    };
    for (const [value, path] of [["{}", 'filters["todos"].conditions[0].values[0]'], ["[1]", ""], ["abc", ""], ['"unterminated', ""]] as const) {
      const error = await refusal({ collections: ["todos"], filters: { todos: { conditions: [{ field: "list", values: [value] }] } } });
      expect(error.code, value).toBe(Code.InvalidArgument);
      if (path) expect(error.message).toContain(path);
    }
    const twice = await refusal({ collections: ["todos"], filters: { todos: { conditions: [{ field: "list", values: ['"a"'] }, { field: "list", values: ['"b"'] }] } } });
    expect(twice.code).toBe(Code.InvalidArgument);
    const elsewhere = await refusal({ collections: ["todos"], filters: { notes: { conditions: [{ field: "list", values: ['"a"'] }] } } });
    expect(elsewhere.code).toBe(Code.InvalidArgument);
    expect(elsewhere.message).toContain('filters["notes"]');
    const unindexed = await refusal({ collections: ["todos"], filters: { todos: { conditions: [{ field: "owner", values: ['"a"'] }] } } });
    expect(unindexed.code).toBe(Code.FailedPrecondition);
    expect(unindexed.message).toContain("owner");
    // Naming no collection, a filter may key any collection.
    await expect(client.pull({ collections: [], filters: listFilter("a") })).resolves.toBeDefined();
  });

  it("never widens what a principal may read: a filter matching a hidden document returns nothing of it", async () => {
    const { url } = await start(backend()(), { authorize: secretRule });
    const alice = syncClient(url, "connect-proto-h2", "t-alice");
    const r1 = revision(await alice.push({ clientId: "w", changes: [pushed("open", { list: "a" }, 1), pushed("hidden", { list: "a", secret: true }, 2)] }), 0);
    const bob = new PullingDevice(url, { token: "t-bob", filters: listFilter("a") });
    await bob.sync();
    expect([...bob.held.keys()]).toEqual(["open"]);
    // Made secret: Bob's copy is removed although it still matches the filter.
    await alice.push({ clientId: "w", changes: [pushed("open", { list: "a", secret: true }, 3, { baseRevision: r1 })] });
    await bob.sync();
    expect(bob.held.size).toBe(0);
    expect(bob.events.map((e) => [e.documentId, e.removed])).toEqual([["open", false], ["open", true]]);
  });

  it("builds an index declared on existing data before it serves, and drops one no longer declared", async () => {
    const open = backend();
    const first = await start(open(), { indexes: [] });
    const writer = syncClient(first.url, "connect-proto-h2", "t-alice");
    const r1 = revision(await writer.push({ clientId: "w", changes: [pushed("old-a", { list: "a" }, 1), pushed("old-b", { list: "b" }, 2)] }));
    await writer.push({ clientId: "w", changes: [pushed("old-a", { list: "b" }, 3, { baseRevision: r1 })] });
    const unindexed = await syncClient(first.url, "connect-proto-h2", "t-alice").pull({ collections: ["todos"], filters: listFilter("b") }).catch((e: unknown) => e);
    expect((unindexed as ConnectError).code).toBe(Code.FailedPrecondition);
    await first.close();
    const second = await start(open());
    const device = new PullingDevice(second.url, { token: "t-alice", filters: listFilter("b") });
    await device.sync();
    expect([...device.held.keys()].sort()).toEqual(["old-a", "old-b"]);
    // Written after the build: indexed as any commit.
    await syncClient(second.url, "connect-proto-h2", "t-alice").push({ clientId: "w2", changes: [pushed("new-b", { list: "b" }, 1)] });
    await device.sync();
    expect([...device.held.keys()].sort()).toEqual(["new-b", "old-a", "old-b"]);
    // Dropped, then declared again: the index lacks the exits from while it was away,
    // so a checkpoint from before its rebuild resyncs.
    await second.close();
    const third = await start(open(), { indexes: [] });
    const w3 = syncClient(third.url, "connect-proto-h2", "t-alice");
    const current = await w3.pull({ collections: ["todos"] });
    const oldA = current.changes.find((c) => c.documentId === "old-a")!;
    await w3.push({ clientId: "w3", changes: [pushed("old-a", { list: "c" }, 1, { baseRevision: oldA.revision })] });
    await third.close();
    const fourth = await start(open());
    const resumed = await syncClient(fourth.url, "connect-proto-h2", "t-alice").pull({ collections: ["todos"], checkpoint: device.checkpoint, filters: listFilter("b") }).catch((e: unknown) => e);
    expect((resumed as ConnectError).code).toBe(Code.FailedPrecondition);
  });
});

describe.runIf(postgresUrl)("filters across servers on one PostgreSQL schema", () => {
  it("delivers a move made through one server to the filtered devices of another, live and on pull, from the shared index", async () => {
    const schema = freshSchema();
    const shared = () => postgresStorage(schema);
    const writerServer = await start(shared());
    const readerServer = await start(shared());
    const streams = { a: new StreamingDevice(readerServer.url, { token: "t-alice", filters: listFilter("a") }), b: new StreamingDevice(readerServer.url, { token: "t-alice", filters: listFilter("b") }), c: new StreamingDevice(readerServer.url, { token: "t-alice", filters: listFilter("c") }) };
    await eventually(() => Object.values(streams).every((s) => s.caughtUp), 5_000, "streams to open");
    const puller = new PullingDevice(readerServer.url, { token: "t-alice", filters: listFilter("a") });
    const writer = syncClient(writerServer.url, "connect-proto-h2", "t-alice");
    const r1 = revision(await writer.push({ clientId: "w", changes: [pushed("d", { list: "a" }, 1)] }));
    await eventually(() => streams.a.held.has("d"), 5_000, "list a's stream on the other server to receive d");
    await puller.sync();
    expect(puller.held.has("d")).toBe(true);
    await writer.push({ clientId: "w", changes: [pushed("d", { list: "b" }, 2, { baseRevision: r1 })] });
    await eventually(() => !streams.a.held.has("d") && streams.b.held.has("d"), 5_000, "the move on the other server's streams");
    await puller.sync();
    for (const device of [streams.a, puller]) expect(device.events.at(-1)).toMatchObject({ documentId: "d", removed: true });
    expect(streams.c.events).toEqual([]);
  });

  it("refuses commits on a server whose indexes differ from the schema's, until it is restarted with the same", async () => {
    const schema = freshSchema();
    const shared = () => postgresStorage(schema);
    const old = await start(shared(), { indexes: LIST });
    const upgraded = await start(shared(), { indexes: [...LIST, { collection: "todos", field: "tag" }] });
    const refused = await syncClient(old.url, "connect-proto-h2", "t-alice").push({ clientId: "w", changes: [pushed("d", { list: "a", tag: 1 }, 1)] }).catch((e: unknown) => e);
    expect((refused as ConnectError).code).toBe(Code.Unavailable);
    const accepted = await syncClient(upgraded.url, "connect-proto-h2", "t-alice").push({ clientId: "w2", changes: [pushed("d", { list: "a", tag: 1 }, 1)] });
    expect(accepted.results[0]!.outcome.case).toBe("accepted");
    const found = await syncClient(upgraded.url, "connect-proto-h2", "t-alice").pull({ collections: ["todos"], filters: { todos: { conditions: [{ field: "tag", values: ["1"] }] } } });
    expect(found.changes.map((c) => c.documentId)).toEqual(["d"]);
    await old.close();
    const restarted = await start(shared(), { indexes: [{ collection: "todos", field: "tag" }, ...LIST] });
    const again = await syncClient(restarted.url, "connect-proto-h2", "t-alice").push({ clientId: "w", changes: [pushed("e", { list: "a", tag: 1 }, 1)] });
    expect(again.results[0]!.outcome.case).toBe("accepted");
  });
});
