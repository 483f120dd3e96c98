// The Pocket Sync client: a local database and the sync engine. Browser-safe:
// nothing reachable from here imports a Node module (gRPC over HTTP/2 is in
// ./node.ts, the Node entry, which re-exports all of this).
//
//   const db = await createDatabase({ name: "app", storage: "level" });
//   const todos = db.collection<Todo>("todos");
//   const sync = createSyncEngine(db, { serverUrl, authToken, collections: ["todos"] });
//   await sync.start();
//   todos.find({ done: false }).$.subscribe(render);
//
// Bring your own database: implement SyncStore (./store.ts documents the
// promises it must keep) and pass it to createSyncEngine instead of a Database.
export { createDatabase, Database, Collection, Query, type DatabaseOptions } from "./db/database.js";
export type { ChangeEvent, ChangeOperation, Doc, NewDoc, Filter, FindOptions } from "./db/types.js";
export type { LevelLike, StorageOption } from "./db/storage.js";
export type { SyncStore, PendingChange, RemoteChange, ApplyOptions, Acknowledgement } from "./store.js";
export {
  createSyncEngine,
  type SyncEngine,
  type SyncEngineConfig,
  type SyncStatus,
  type SyncStats,
  type SyncError,
  type SyncDirection,
  type SyncCollection,
  type SyncFilter,
  type SyncFilterValue,
  type ConflictStrategy,
  type ClientConflict,
  type CustomConflictResolver,
  type Syncable,
} from "./engine/engine.js";
export { backoffDelay } from "./engine/backoff.js";
export { createWebTransport, type TransportKind, type TransportOptions } from "./transport/index.js";
export type { Conflict, Resolution, JsonObject, JsonValue, Timestamp } from "../../common/src/index.js";
