// A client created with the seed's defaults (no `collections`, or `[]`) syncs
// every collection its token may read, including collections created while it
// runs (PROTOCOL §4.8), against the reference server as a child process.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, createSyncEngine, type Database } from "./index.js";
import type { SyncEngine, SyncEngineConfig } from "./engine/engine.js";
import { startServer, waitFor, type ServerProcess } from "./test-support/server-process.js";

interface Device {
  readonly db: Database;
  readonly engine: SyncEngine;
}
const devices: Device[] = [];
afterEach(async () => {
  for (const d of devices.splice(0)) {
    await d.engine.stop();
    await d.db.close();
  }
});

let server: ServerProcess;
let dir: string;
let tokens: string;
const TOKENS = "token-alice alice\ntoken-bob bob collections=todos,notes\n";
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pocket-all-collections-"));
  tokens = join(dir, "tokens");
  writeFileSync(tokens, TOKENS);
  server = await startServer({ args: ["--token-file", tokens, "--heartbeat-ms", "1000"] });
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

let names = 0;
async function device(config: Omit<SyncEngineConfig, "serverUrl">): Promise<Device> {
  const db = await createDatabase({ name: `all-${names++}`, storage: "memory" });
  const engine = createSyncEngine(db, { serverUrl: server.url, retryDelay: 20, maxRetryDelay: 300, heartbeatInterval: 1000, ...config } as SyncEngineConfig);
  devices.push({ db, engine });
  await engine.start();
  return { db, engine };
}

const ids = async (d: Device, collection: string) => (await d.db.collection(collection).find()).map((doc) => doc._id).sort();

describe("a client with the seed's default collections", () => {
  it("pushes and receives every collection, over the stream and by polling, including collections created later", async () => {
    const writer = await device({ authToken: "token-alice" }); // `collections` left out, as in the seed
    const streaming = await device({ authToken: "token-alice", collections: [] });
    const polling = await device({ authToken: "token-alice", useWebSocket: false, pullInterval: 50 });
    await writer.db.collection("todos").insert({ _id: "t1", title: "milk" });
    await writer.db.collection("notes").insert({ _id: "n1", text: "hello" });
    for (const d of [streaming, polling]) {
      await waitFor(async () => (await ids(d, "todos")).length === 1 && (await ids(d, "notes")).length === 1, "both collections to arrive");
    }
    // A collection nobody had written before the devices started.
    await writer.db.collection("later").insert({ _id: "l1" });
    await streaming.db.collection("later").insert({ _id: "l2" });
    for (const d of [writer, streaming, polling]) {
      await waitFor(async () => JSON.stringify(await ids(d, "later")) === JSON.stringify(["l1", "l2"]), "the new collection to reach every device");
    }
  });

  it("skips the collections its token may not read, without an error", async () => {
    const alice = await device({ authToken: "token-alice" });
    await alice.db.collection("todos").insert({ _id: "shared" });
    await alice.db.collection("secrets").insert({ _id: "s1" });
    const errors: unknown[] = [];
    const bob = await device({ authToken: "token-bob" });
    bob.engine.errors$.subscribe((e) => errors.push(e));
    await waitFor(async () => (await ids(bob, "todos")).includes("shared"), "bob's readable collection");
    await bob.engine.forceSync();
    expect(await ids(bob, "secrets")).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("drops the documents of a collection its token may no longer read, once the grant shrinks", async () => {
    const alice = await device({ authToken: "token-alice" });
    await alice.db.collection("notes").insert({ _id: "private-soon" });
    await alice.db.collection("todos").insert({ _id: "still-shared" });
    for (const useWebSocket of [true, false]) {
      const bob = await device({ authToken: "token-bob", useWebSocket, pullInterval: 50 });
      await waitFor(async () => (await ids(bob, "notes")).includes("private-soon") && (await ids(bob, "todos")).includes("still-shared"), "bob's copies");
      writeFileSync(tokens, "token-alice alice\ntoken-bob bob collections=todos\n");
      try {
        await waitFor(async () => (await ids(bob, "notes")).length === 0, "bob's notes to go");
        expect(await ids(bob, "todos")).toContain("still-shared");
      } finally {
        writeFileSync(tokens, TOKENS);
      }
      await new Promise((r) => setTimeout(r, 1500)); // the file is polled every second
    }
  });
});
