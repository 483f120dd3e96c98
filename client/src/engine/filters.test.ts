// The engine under filtered collections, against an in-test fake that applies
// filters as PROTOCOL §4.10 says (equality and in on top-level fields, a
// digest in the checkpoint, RESYNC_REQUIRED when the filter changed, removals
// for documents that stop matching): every Pull and Subscribe carries the
// filters, a removal drops the copy without pushing, the client's own write
// outside its filter stays local, and a new filter between two runs on one
// database resyncs, keeping pending changes.
import { create } from "@bufbuild/protobuf";
import { Code, createRouterTransport } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { syncError, type JsonObject } from "../../../common/src/index.js";
import {
  ChangeEventSchema,
  ErrorReason,
  Operation,
  SyncService,
  type ChangeEvent,
  type Checkpoint,
  type Filter,
  type PullRequest,
  type SubscribeRequest,
} from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createDatabase, type Database } from "../db/database.js";
import { waitFor } from "../test-support/server-process.js";
import { createSyncEngine, type SyncEngine, type SyncEngineConfig } from "./engine.js";

const dbs: Database[] = [];
const engines: SyncEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
  await Promise.all(dbs.splice(0).map((d) => d.close()));
});

interface State {
  readonly seq: bigint;
  readonly doc: JsonObject | null;
  readonly rev: string;
}

const matches = (filter: Filter | undefined, doc: JsonObject | null) =>
  doc !== null && (filter?.conditions ?? []).every((c) => c.field in doc && c.values.includes(JSON.stringify(doc[c.field])));
// Order-free, as the digest must be (§4.10); the fake's own, opaque to the client.
const digest = (filter: Filter) => JSON.stringify(filter.conditions.map((c) => [c.field, [...new Set(c.values)].sort()]).sort());

/** One collection, "todos", served under filters as §4.10 says (for the cases these tests make). */
function filteringServer() {
  const history = new Map<string, State[]>();
  const pulls: PullRequest[] = [];
  const subscribes: SubscribeRequest[] = [];
  const pushed: ChangeEvent[] = [];
  let seq = 0n;
  const commit = (id: string, doc: JsonObject | null) => {
    seq++;
    const states = history.get(id) ?? [];
    states.push({ seq, doc, rev: `${seq}-r` });
    history.set(id, states);
    return states.at(-1)!;
  };
  const stateAt = (id: string, p: bigint) => history.get(id)!.filter((s) => s.seq <= p).at(-1);
  const read = (request: { checkpoint?: Checkpoint | undefined; filters: Record<string, Filter> }) => {
    const filter = request.filters.todos;
    const position = request.checkpoint?.collections.todos ?? 0n;
    const held = request.checkpoint?.filters.todos ?? "";
    if (position > 0n && held !== (filter ? digest(filter) : "")) {
      throw syncError(Code.FailedPrecondition, ErrorReason.RESYNC_REQUIRED, "the filter changed", { metadata: { collections: "todos" } });
    }
    const changes: ChangeEvent[] = [];
    for (const [id, states] of history) {
      const now = states.at(-1)!;
      if (now.seq <= position) continue;
      const event = { collection: "todos", documentId: id, serverSequence: now.seq };
      const before = stateAt(id, position);
      if (now.doc !== null && matches(filter, now.doc)) {
        changes.push(create(ChangeEventSchema, { ...event, operation: Operation.UPDATE, document: JSON.stringify(now.doc), revision: now.rev, clientId: "other", timestamp: { wallTimeMs: 1n } }));
      } else if (before && before.doc !== null && matches(filter, before.doc)) {
        changes.push(create(ChangeEventSchema, { ...event, ...(now.doc === null ? { deleted: true, operation: Operation.DELETE, revision: now.rev } : { removed: true, deleted: true, operation: Operation.DELETE }) }));
      }
    }
    changes.sort((a, b) => Number(a.serverSequence - b.serverSequence));
    const filters: Record<string, string> = filter ? { todos: digest(filter) } : {};
    const checkpoint = { serverSequence: seq, collections: { todos: seq }, filters };
    return { changes, checkpoint };
  };
  const transport = createRouterTransport(({ service }) => {
    service(SyncService, {
      push(request) {
        const results = request.changes.map((change) => {
          pushed.push(change);
          const state = commit(change.documentId, change.operation === Operation.DELETE ? null : (JSON.parse(change.document) as JsonObject));
          return { clientSequence: change.clientSequence, outcome: { case: "accepted" as const, value: { revision: state.rev, serverSequence: state.seq } } };
        });
        return { results, checkpoint: { serverSequence: seq } };
      },
      pull(request) {
        pulls.push(request);
        return { ...read(request), hasMore: false };
      },
      async *subscribe(request, context) {
        subscribes.push(request);
        const { changes, checkpoint } = read(request);
        yield { event: { case: "changes", value: { changes, checkpoint, caughtUp: true } } };
        await new Promise((resolve) => context.signal.addEventListener("abort", resolve, { once: true }));
      },
    });
  });
  return { transport, pulls, subscribes, pushed, write: (id: string, doc: JsonObject | null) => commit(id, doc) };
}

type Server = ReturnType<typeof filteringServer>;

async function engineOn(server: Server, db: Database, config: Partial<SyncEngineConfig>): Promise<SyncEngine> {
  const engine = createSyncEngine(db, { serverUrl: "http://fake", transport: server.transport, useWebSocket: false, pullInterval: 60_000, retryDelay: 5, ...config });
  engines.push(engine);
  return engine;
}

async function memoryDb(): Promise<Database> {
  const db = await createDatabase({ name: "filters", storage: "memory" });
  dbs.push(db);
  return db;
}

const ids = async (db: Database) => (await db.collection("todos").find()).map((d) => d._id).sort();
const listA = [{ name: "todos", filter: { list: "a" } }];

describe("a filtered collection", () => {
  it("is pulled under its filter, in every pull", async () => {
    const server = filteringServer();
    server.write("a1", { list: "a" });
    server.write("b1", { list: "b" });
    const db = await memoryDb();
    const engine = await engineOn(server, db, { collections: ["notes", { name: "todos", filter: { list: ["a", "c"], done: false } }] });
    await engine.forceSync();
    server.write("a2", { list: "a", done: false });
    await engine.forceSync();
    expect(server.pulls.length).toBe(2);
    for (const pull of server.pulls) {
      expect(pull.collections).toEqual(["notes", "todos"]);
      expect(Object.keys(pull.filters)).toEqual(["todos"]);
      expect(pull.filters.todos!.conditions.map((c) => [c.field, c.values])).toEqual([
        ["list", ['"a"', '"c"']],
        ["done", ["false"]],
      ]);
    }
    expect(await ids(db)).toEqual(["a2"]);
  });

  it("is subscribed to under its filter", async () => {
    const server = filteringServer();
    server.write("a1", { list: "a" });
    server.write("b1", { list: "b" });
    const db = await memoryDb();
    const engine = await engineOn(server, db, { collections: listA, useWebSocket: true });
    await engine.start();
    await waitFor(async () => (await ids(db)).length === 1, "the stream's catch-up");
    expect(await ids(db)).toEqual(["a1"]);
    expect(server.subscribes).toHaveLength(1);
    expect(server.subscribes[0]!.filters.todos!.conditions.map((c) => [c.field, c.values])).toEqual([["list", ['"a"']]]);
  });

  it("drops a document that stops matching without pushing a delete, and takes one that starts", async () => {
    const server = filteringServer();
    server.write("a1", { list: "a" });
    server.write("b1", { list: "b" });
    const db = await memoryDb();
    const engine = await engineOn(server, db, { collections: listA });
    await engine.forceSync();
    expect(await ids(db)).toEqual(["a1"]);
    server.write("a1", { list: "b" }); // moves out
    server.write("b1", { list: "a" }); // moves in
    await engine.forceSync();
    expect(await ids(db)).toEqual(["b1"]);
    await engine.forceSync();
    expect(server.pushed).toEqual([]);
    expect(await db.syncStore.pendingCount([])).toBe(0);
  });

  it("keeps the client's own write that does not match, pushed and acknowledged, and syncs on", async () => {
    const server = filteringServer();
    const db = await memoryDb();
    const engine = await engineOn(server, db, { collections: listA });
    const errors: unknown[] = [];
    engine.errors$.subscribe((e) => errors.push(e));
    await db.collection("todos").insert({ _id: "mine", list: "b" });
    await engine.forceSync();
    await engine.forceSync();
    expect(server.pushed.map((c) => c.documentId)).toEqual(["mine"]);
    expect(await db.collection("todos").get("mine")).toMatchObject({ list: "b" });
    expect(await db.syncStore.pendingCount([])).toBe(0);
    expect(errors).toEqual([]);
  });

  it("restarted under another filter on the same database, resyncs: what no longer matches goes, pending changes stay", async () => {
    const server = filteringServer();
    for (const [id, list] of [["a1", "a"], ["a2", "a"], ["b1", "b"]] as const) server.write(id, { list });
    const db = await memoryDb();
    const first = await engineOn(server, db, { collections: listA });
    await first.forceSync();
    expect(await ids(db)).toEqual(["a1", "a2"]);
    await first.stop();
    // Offline between the runs: an edit of a1 waits in the outbox.
    await db.collection("todos").update("a1", { note: "mine" });
    const second = await engineOn(server, db, { collections: [{ name: "todos", filter: { list: "b" } }], direction: "pull" });
    await second.forceSync();
    const [refused, resync] = server.pulls.slice(-2);
    expect(refused!.checkpoint?.collections.todos).toBeGreaterThan(0n);
    expect(resync!.checkpoint?.collections.todos ?? 0n).toBe(0n);
    expect(resync!.filters.todos!.conditions[0]!.values).toEqual(['"b"']);
    expect(await ids(db)).toEqual(["a1", "b1"]);
    expect(await db.collection("todos").get("a1")).toMatchObject({ list: "a", note: "mine" });
    expect(await db.syncStore.pendingCount(["todos"])).toBe(1);
    // The stored checkpoint is the new filter's: the next pull is not refused again.
    const before = server.pulls.length;
    await second.forceSync();
    expect(server.pulls.length).toBe(before + 1);
    expect(server.pulls.at(-1)!.checkpoint?.collections.todos).toBeGreaterThan(0n);
  });

  it("restarted without its filter, resyncs the whole collection", async () => {
    const server = filteringServer();
    for (const [id, list] of [["a1", "a"], ["b1", "b"]] as const) server.write(id, { list });
    const db = await memoryDb();
    const first = await engineOn(server, db, { collections: listA });
    await first.forceSync();
    await first.stop();
    const second = await engineOn(server, db, { collections: ["todos"] });
    await second.forceSync();
    expect(await ids(db)).toEqual(["a1", "b1"]);
    expect(server.pulls.at(-1)!.filters).toEqual({});
  });
});
