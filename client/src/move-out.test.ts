// The reference client under a per-document read rule (the server's
// --owner-field): when a document's owner changes, the old owner's devices
// drop their copy without pushing anything, the new owner's receive it, and
// a third user's device hears nothing (PROTOCOL §13.6).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, createSyncEngine, type Database } from "./index.js";
import type { SyncEngine } from "./engine/engine.js";
import { startServer, waitFor, type ServerProcess } from "./test-support/server-process.js";

interface Device {
  readonly db: Database;
  readonly engine: SyncEngine;
  readonly seen: string[];
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
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pocket-move-out-"));
  const tokens = join(dir, "tokens");
  writeFileSync(tokens, "t-alice alice\nt-bob bob\nt-carol carol\n");
  server = await startServer({ args: ["--token-file", tokens, "--owner-field", "ownerId", "--heartbeat-ms", "1000"] });
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

let names = 0;
async function device(token: string, useWebSocket = true): Promise<Device> {
  const db = await createDatabase({ name: `move-${names++}`, storage: "memory" });
  const engine = createSyncEngine(db, { serverUrl: server.url, authToken: token, useWebSocket, pullInterval: 50, retryDelay: 20, heartbeatInterval: 1000 });
  const seen: string[] = [];
  db.collection("todos").changes().subscribe((e) => seen.push(`${e.operation}:${e.documentId}`));
  devices.push({ db, engine, seen });
  await engine.start();
  return { db, engine, seen };
}

describe("a document whose owner changes", () => {
  it("leaves the old owner's devices, reaches the new owner's, and nobody else hears of it", async () => {
    const alicePhone = await device("t-alice");
    const aliceLaptop = await device("t-alice", false);
    const bob = await device("t-bob");
    const carol = await device("t-carol", false);
    await alicePhone.db.collection("todos").insert({ _id: "d", ownerId: "alice", title: "taxes" });
    await waitFor(async () => (await aliceLaptop.db.collection("todos").get("d")) !== null, "alice's laptop to receive d");
    await aliceLaptop.db.collection("todos").update("d", { ownerId: "bob" });
    await waitFor(async () => (await bob.db.collection("todos").get("d"))?.ownerId === "bob", "bob to receive d");
    for (const d of [alicePhone, aliceLaptop]) await waitFor(async () => (await d.db.collection("todos").get("d")) === null, "alice's devices to drop d");
    await alicePhone.engine.forceSync();
    await carol.engine.forceSync();
    expect(carol.seen).toEqual([]);
    // The removal was not pushed as a delete: bob still has the document.
    await bob.engine.forceSync();
    expect(await bob.db.collection("todos").get("d")).toMatchObject({ ownerId: "bob", title: "taxes" });
    // And it comes back to Alice when Bob returns it.
    await bob.db.collection("todos").update("d", { ownerId: "alice" });
    for (const d of [alicePhone, aliceLaptop]) await waitFor(async () => (await d.db.collection("todos").get("d"))?.ownerId === "alice", "alice's devices to get d back");
    await waitFor(async () => (await bob.db.collection("todos").get("d")) === null, "bob to drop d");
  });
});
