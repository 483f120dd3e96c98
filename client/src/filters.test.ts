// Filtered collections against the reference server as a child process,
// started with an index on `list` (PROTOCOL §4.10–4.12): a client receives only
// the documents of its list, a document moved to another list leaves it (and
// stays on the server) and reaches that list's clients, live and by polling,
// and a client restarted on the same database with another filter resyncs.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorReason } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { isReason } from "../../common/src/index.js";
import { createDatabase, createSyncEngine, type Database, type SyncError } from "./index.js";
import type { SyncEngine, SyncEngineConfig } from "./engine/engine.js";
import { serverSnapshot } from "./test-support/harness.js";
import { startServer, waitFor, type ServerProcess } from "./test-support/server-process.js";

interface Device {
  readonly db: Database;
  readonly engine: SyncEngine;
  readonly errors: SyncError[];
}
const devices: Device[] = [];
async function close(d: Device): Promise<void> {
  const at = devices.indexOf(d);
  if (at >= 0) devices.splice(at, 1);
  await d.engine.stop();
  await d.db.close();
}
afterEach(async () => {
  for (const d of [...devices]) await close(d);
});

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "pocket-filters-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let names = 0;
async function device(url: string, config: Omit<SyncEngineConfig, "serverUrl">, name = `memory-${names++}`): Promise<Device> {
  const db = name.startsWith("memory-") ? await createDatabase({ name, storage: "memory" }) : await createDatabase({ name: join(dir, name), storage: "level" });
  const engine = createSyncEngine(db, { serverUrl: url, retryDelay: 20, maxRetryDelay: 300, heartbeatInterval: 1000, pullInterval: 50, ...config });
  const errors: SyncError[] = [];
  engine.errors$.subscribe((e) => errors.push(e));
  const d = { db, engine, errors };
  devices.push(d);
  await engine.start();
  return d;
}

const ids = async (d: Device) => (await d.db.collection("todos").find()).map((doc) => doc._id).sort();
const onList = (list: string) => ({ collections: [{ name: "todos", filter: { list } }] });

describe.each(["level", "memory"] as const)("filtered collections (server storage %s)", (storage) => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ storage, args: ["--index", "*.list", "--heartbeat-ms", "1000"] });
  });
  afterAll(() => server?.stop());

  it("a client receives only its list; a document moved to another list leaves it and reaches that list's clients", async () => {
    const writer = await device(server.url, { collections: ["todos"] });
    const aLive = await device(server.url, onList("a"));
    const aPolling = await device(server.url, { ...onList("a"), useWebSocket: false });
    const b = await device(server.url, onList("b"));
    const todos = writer.db.collection("todos");
    await todos.insert({ _id: "t1", list: "a", title: "milk" });
    await todos.insert({ _id: "t2", list: "b", title: "bread" });
    await todos.insert({ _id: "t3", list: "a", title: "eggs" });
    for (const d of [aLive, aPolling]) await waitFor(async () => (await ids(d)).join() === "t1,t3", "list a's documents");
    await waitFor(async () => (await ids(b)).join() === "t2", "list b's document");
    await todos.update("t1", { list: "b" });
    for (const d of [aLive, aPolling]) await waitFor(async () => (await ids(d)).join() === "t3", "t1 to leave list a's clients");
    await waitFor(async () => (await ids(b)).join() === "t1,t2", "t1 to reach list b's client");
    expect(await b.db.collection("todos").get("t1")).toMatchObject({ list: "b", title: "milk" });
    // Nothing was deleted: the removal stayed local.
    for (const d of [aLive, aPolling]) {
      await d.engine.forceSync();
      expect(await d.db.syncStore.pendingCount([])).toBe(0);
      expect(d.errors).toEqual([]);
    }
    expect(Object.keys(await serverSnapshot(server.url, "todos")).sort()).toEqual(["t1", "t2", "t3"]);
    // And it comes back when it moves back.
    await b.db.collection("todos").update("t1", { list: "a" });
    for (const d of [aLive, aPolling]) await waitFor(async () => (await ids(d)).join() === "t1,t3", "t1 to come back to list a");
    await waitFor(async () => (await ids(b)).join() === "t2", "t1 to leave list b's client");
  });

  it('with "*", syncs every collection, created later ones included, and only its list of the filtered one, live and by polling', async () => {
    const prefix = `every-${storage}`;
    const writer = await device(server.url, {});
    const live = await device(server.url, { collections: ["*", { name: "todos", filter: { list: "a" } }] });
    const polling = await device(server.url, { collections: ["*", { name: "todos", filter: { list: "a" } }], useWebSocket: false });
    await writer.db.collection("todos").insert({ _id: `${prefix}-t1`, list: "a" });
    await writer.db.collection("todos").insert({ _id: `${prefix}-t2`, list: "b" });
    await writer.db.collection("notes").insert({ _id: `${prefix}-n1`, list: "b" });
    const fresh = `fresh${storage}`;
    await writer.db.collection(fresh).insert({ _id: `${prefix}-f1`, list: "z" });
    const held = async (d: Device) =>
      [
        ...(await d.db.collection("todos").find()).map((doc) => `todos/${doc._id}`),
        ...(await d.db.collection("notes").find()).map((doc) => `notes/${doc._id}`),
        ...(await d.db.collection(fresh).find()).map((doc) => `${fresh}/${doc._id}`),
      ].filter((key) => key.includes(prefix)).sort();
    const expected = [`${fresh}/${prefix}-f1`, `notes/${prefix}-n1`, `todos/${prefix}-t1`].sort().join();
    for (const d of [live, polling]) await waitFor(async () => (await held(d)).join() === expected, "every collection, list a of todos");
    // Moving out of the filtered collection's list: a removal; nothing else moves.
    await writer.db.collection("todos").update(`${prefix}-t1`, { list: "b" });
    for (const d of [live, polling]) await waitFor(async () => !(await held(d)).includes(`todos/${prefix}-t1`), "t1 to leave");
    for (const d of [live, polling]) expect((await held(d)).join()).toBe([`${fresh}/${prefix}-f1`, `notes/${prefix}-n1`].sort().join());
    // Its own writes go out, in every collection.
    await live.db.collection("notes").insert({ _id: `${prefix}-mine` });
    await live.engine.forceSync();
    expect(await live.db.syncStore.pendingCount([])).toBe(0);
    expect((await serverSnapshot(server.url, "notes"))[`${prefix}-mine`]).toEqual({});
    for (const d of [live, polling]) expect(d.errors).toEqual([]);
  });

  it("keeps a client's own write outside its filter, pushed, without an error", async () => {
    const a = await device(server.url, onList("a"));
    await a.db.collection("todos").insert({ _id: "own", list: "z" });
    await a.engine.forceSync();
    await a.engine.forceSync();
    expect(await a.db.collection("todos").get("own")).toMatchObject({ list: "z" });
    expect(await a.db.syncStore.pendingCount([])).toBe(0);
    expect((await serverSnapshot(server.url, "todos")).own).toEqual({ list: "z" });
    expect(a.errors).toEqual([]);
  });

  it("restarted on the same database with another filter, resyncs: what no longer matches goes, pending changes stay", async () => {
    const writer = await device(server.url, { collections: ["todos"] });
    const todos = writer.db.collection("todos");
    await todos.insert({ _id: "r1", list: "x" });
    await todos.insert({ _id: "r2", list: "x" });
    await todos.insert({ _id: "r3", list: "y" });
    await writer.engine.forceSync();
    const name = `level-restart-${storage}`;
    const first = await device(server.url, { ...onList("x"), useWebSocket: false }, name);
    await waitFor(async () => (await ids(first)).join() === "r1,r2", "list x");
    await close(first);
    // Between the runs: a local edit of r1 waits in the outbox (pull only, so it stays pending).
    const offline = await createDatabase({ name: join(dir, name), storage: "level" });
    await offline.collection("todos").update("r1", { note: "mine" });
    await offline.close();
    const second = await device(server.url, { collections: [{ name: "todos", filter: { list: ["y"] } }], direction: "pull" }, name);
    await waitFor(async () => (await ids(second)).join() === "r1,r3", "the resync under list y, keeping the pending r1");
    expect(await second.db.collection("todos").get("r1")).toMatchObject({ list: "x", note: "mine" });
    expect(await second.db.syncStore.pendingCount(["todos"])).toBe(1);
    await second.engine.forceSync();
    expect(second.errors.filter((e) => !isReason(e.error, ErrorReason.RESYNC_REQUIRED))).toEqual([]);
  });

  it("reports a filter on a field the server does not index, and syncs nothing of it", async () => {
    const writer = await device(server.url, { collections: ["todos"] });
    await writer.db.collection("todos").insert({ _id: "u1", list: "a", owner: "me" });
    await writer.engine.forceSync();
    const d = await device(server.url, { collections: [{ name: "todos", filter: { owner: "me" } }], useWebSocket: false });
    await expect(d.engine.forceSync()).rejects.toMatchObject({ code: Code.FailedPrecondition });
    await waitFor(() => d.errors.some((e) => isReason(e.error, ErrorReason.FILTER_NOT_INDEXED)), "the error on errors$");
    expect(await ids(d)).toEqual([]);
  });
});
