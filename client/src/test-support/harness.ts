// Test support (not part of the client's API): clients against a real server
// process, and the checks the integration and property tests share.
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { jsonEqual, type JsonObject } from "../../../common/src/index.js";
import { CheckpointSchema, SyncService } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createDatabase, type Collection, type Database } from "../db/database.js";
import { createSyncEngine, type SyncEngine, type SyncEngineConfig } from "../engine/engine.js";
import { waitFor } from "./server-process.js";

export interface TestClient {
  readonly name: string;
  readonly db: Database;
  readonly engine: SyncEngine;
  col(name: string): Collection;
}

export async function makeClient(name: string, config: SyncEngineConfig & { storage?: "memory" }): Promise<TestClient> {
  const db = await createDatabase({ name, storage: "memory" });
  const engine = createSyncEngine(db, { retryDelay: 20, maxRetryDelay: 300, heartbeatInterval: 2000, ...config });
  return { name, db, engine, col: (c) => db.collection(c) };
}

/** Live documents of a collection: id -> fields (no metadata). */
export type Snapshot = Record<string, JsonObject>;

export async function snapshot(client: TestClient, collection: string): Promise<Snapshot> {
  const out: Snapshot = {};
  for (const doc of await client.col(collection).find()) {
    const { _id, _rev, ...fields } = doc as JsonObject & { _id: string; _rev: string };
    void _rev;
    out[_id] = fields;
  }
  return out;
}

/** The server's live documents, read over the wire from the beginning. */
export async function serverSnapshot(url: string, collection: string, token?: string): Promise<Snapshot> {
  const client = createClient(SyncService, createConnectTransport({ baseUrl: url }));
  const out: Snapshot = {};
  let checkpoint = create(CheckpointSchema);
  for (;;) {
    const res = await client.pull(
      { collections: [collection], checkpoint, limit: 1000 },
      token ? { headers: { authorization: `Bearer ${token}` } } : {},
    );
    for (const c of res.changes) {
      if (c.deleted) delete out[c.documentId];
      else out[c.documentId] = JSON.parse(c.document) as JsonObject;
    }
    checkpoint = res.checkpoint ?? checkpoint;
    if (!res.hasMore) return out;
  }
}

/** Waits until no client has pending changes and every replica equals the server. */
export async function waitConverged(url: string, clients: readonly TestClient[], collection: string, timeoutMs = 20_000, token?: string): Promise<Snapshot> {
  let last = "";
  let server: Snapshot = {};
  await waitFor(
    async () => {
      for (const c of clients) if ((await c.db.syncStore.pendingCount([collection])) > 0) return false;
      server = await serverSnapshot(url, collection, token);
      const snaps = await Promise.all(clients.map((c) => snapshot(c, collection)));
      last = JSON.stringify({ server, clients: snaps });
      return snaps.every((s) => jsonEqual(s, server));
    },
    `convergence of ${collection}`,
    timeoutMs,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; last state: ${last}`);
  });
  return server;
}
