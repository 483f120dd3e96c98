// A read rule that changes while no document does (PROTOCOL §13.7), with the
// real server process restarted under another --owner-field, on LevelDB and
// PostgreSQL: every device that holds a position resyncs, drops what the new
// rule hides and gets what it now shows, though nothing was written.
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createDatabase, type Database } from "../../../client/src/db/database.js";
import { createSyncEngine } from "../../../client/src/node.js";
import { ErrorInfoSchema } from "../../../gen/ts/google/rpc/error_details_pb.js";
import type { Checkpoint } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { dropSchemas, freshSchema, postgresUrl } from "../storage/testing.js";
import { pushed, syncClient, tempDir } from "./testing.js";
import { startCli, stopAllClis, type CliProcess } from "./testing-cli.js";

afterAll(dropSchemas);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await stopAllClis();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The storage flags of one data set, kept across restarts. */
const backends: Array<[string, () => string[]]> = [
  ["level", () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    return ["--data-dir", dir.path];
  }],
];
if (postgresUrl) {
  const url = postgresUrl;
  backends.push(["postgres", () => ["--storage", "postgres", "--postgres-url", url, "--postgres-schema", freshSchema()]]);
}

function tokenFile(): string {
  const dir = tempDir();
  cleanups.push(dir.remove);
  const path = join(dir.path, "tokens");
  writeFileSync(path, "t-alice alice\nt-bob bob\n");
  return path;
}

function resyncReason(error: unknown): { code: Code; reason?: string; collections?: string } {
  const e = ConnectError.from(error);
  const info = e.findDetails(ErrorInfoSchema)[0];
  return { code: e.code, reason: info?.reason, collections: info?.metadata.collections };
}

describe.each(backends)("a read rule changed across a restart (%s)", (_name, storageFlags) => {
  it("makes every device with a position resync: hidden documents leave it, shown ones arrive, unchanged ones stay", async () => {
    const storage = storageFlags();
    const base = [...storage, "--token-file", tokenFile()];
    const serve = (ownerField?: string): Promise<CliProcess> => startCli([...base, ...(ownerField ? ["--owner-field", ownerField] : [])]);

    let server = await serve();
    const bob = syncClient(server.url, "connect-proto-h2", "t-bob");
    const written = await bob.push({
      clientId: "bob-phone",
      changes: [
        pushed("of-bob", { ownerId: "bob", title: "bob's" }, 1),
        pushed("of-alice", { ownerId: "alice", title: "alice's" }, 2),
        pushed("of-nobody", { title: "no owner" }, 3),
        pushed("of-team", { teamId: "bob", ownerId: "alice" }, 4),
      ],
    });
    expect(written.results.every((r) => r.outcome.case === "accepted")).toBe(true);

    // Alice's app, and a raw device keeping the checkpoint it pulled.
    const db: Database = await createDatabase({ name: `alice-${randomUUID()}`, storage: "memory" });
    cleanups.push(() => db.close());
    const syncAlice = async (url: string) => {
      const engine = createSyncEngine(db, { serverUrl: url, authToken: "t-alice", transport: "grpc", collections: ["todos"], retryDelay: 20, maxRetryDelay: 200 });
      try {
        await engine.forceSync();
      } finally {
        await engine.stop();
      }
    };
    const held = async () => {
      const ids = [];
      for (const id of ["of-bob", "of-alice", "of-nobody", "of-team"]) if (await db.collection("todos").get(id)) ids.push(id);
      return ids;
    };
    const pullFrom = async (url: string, checkpoint: Checkpoint | undefined) =>
      syncClient(url, "connect-proto-h2", "t-alice").pull({ collections: ["todos"], checkpoint, limit: 100 });

    await syncAlice(server.url);
    expect(await held()).toEqual(["of-bob", "of-alice", "of-nobody", "of-team"]);
    const before = (await pullFrom(server.url, undefined)).checkpoint;

    // Owned by ownerId now: bob's documents leave alice's devices.
    await server.stop("SIGTERM");
    server = await serve("ownerId");
    const refused = await pullFrom(server.url, before).then(() => undefined, resyncReason);
    expect(refused).toEqual({ code: Code.FailedPrecondition, reason: "ERROR_REASON_RESYNC_REQUIRED", collections: "todos" });
    await syncAlice(server.url);
    expect(await held()).toEqual(["of-alice", "of-nobody", "of-team"]);
    // Restarted under the same rule: nothing to resync.
    const settled = (await pullFrom(server.url, undefined)).checkpoint;
    await server.stop("SIGTERM");
    server = await serve("ownerId");
    expect((await pullFrom(server.url, settled)).changes).toEqual([]);

    // Owned by teamId: "of-bob" (no team) arrives though it never changed; "of-team" leaves.
    await server.stop("SIGTERM");
    server = await serve("teamId");
    await syncAlice(server.url);
    expect(await held()).toEqual(["of-bob", "of-alice", "of-nobody"]);

    // No rule any more: everything is alice's to read again.
    await server.stop("SIGTERM");
    server = await serve();
    await syncAlice(server.url);
    expect(await held()).toEqual(["of-bob", "of-alice", "of-nobody", "of-team"]);
  }, 60_000);
});
