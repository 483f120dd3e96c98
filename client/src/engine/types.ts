// Public types of the sync engine (the seed's createSyncEngine API).
import type { ConnectError, Transport } from "@connectrpc/connect";
import type { Observable } from "rxjs";
import type { Conflict, ConflictStrategyName, JsonObject, Resolution } from "../../../common/src/index.js";
import type { SyncStore } from "../store.js";
import type { TransportKind } from "../transport/index.js";

export type SyncStatus = "idle" | "syncing" | "error" | "offline";
export type SyncDirection = "push" | "pull" | "both";
export type ConflictStrategy = ConflictStrategyName | "custom";

export interface SyncStats {
  /** Changes the server took (accepted or resolved). */
  readonly pushCount: number;
  /** Server changes received and applied. */
  readonly pullCount: number;
  /** Conflicts met (settled by the server or by this client). */
  readonly conflictCount: number;
  /** When a push or pull last completed (ms since the epoch), or null. */
  readonly lastSyncAt: number | null;
}

/** What a custom resolver sees: the common conflict plus the seed's local/remote documents. */
export interface ClientConflict extends Conflict {
  /** The local state with `_id`, or null for a local delete. */
  readonly localDocument: (JsonObject & { _id: string }) | null;
  /** The server state with `_id` and `_rev`, or null for a server tombstone. */
  readonly remoteDocument: (JsonObject & { _id: string; _rev: string }) | null;
}

/**
 * A custom resolver returns either a Resolution (`{winner: "server"}`,
 * `{winner: "client"}`, `{winner: "merged", document}`) or, as in the seed,
 * the resolved document itself (reserved keys are dropped; null deletes).
 */
export type CustomConflictResolver = (
  conflict: ClientConflict,
) => Resolution | JsonObject | null | Promise<Resolution | JsonObject | null>;

/** A value a filtered field may hold: a JSON scalar. */
export type SyncFilterValue = string | number | boolean | null;

/**
 * Narrows a collection to the documents whose top-level fields hold given
 * values (PROTOCOL §4.10): `{ listId: "42" }` is equality, `{ listId: ["42",
 * "43"] }` is "in", several fields must all hold. The server answers it from
 * an index it declares (`--index`).
 */
export type SyncFilter = { readonly [field: string]: SyncFilterValue | readonly SyncFilterValue[] };

/**
 * A collection to sync, by name, or with a filter: `{ name: "todos", filter:
 * { listId: "42" } }`; or "*", every collection the token may read.
 */
export type SyncCollection = string | { readonly name: string; readonly filter?: SyncFilter };

export interface SyncEngineConfig {
  /** The server's base URL, e.g. http://localhost:8080. */
  readonly serverUrl: string;
  readonly authToken?: string;
  /**
   * The collections to sync. Omitted or empty (the seed's default): every
   * collection the token may read, including collections created later
   * (PROTOCOL §4.8), and every local collection is pushed. An entry
   * `{ name, filter }` syncs only the documents that match the filter; a
   * document that stops matching leaves this replica (it stays on the
   * server), and changing the filter between runs resyncs the collection.
   * `["*", { name: "todos", filter }]` syncs every collection, and only the
   * matching documents of "todos". Checked when the engine is created (a
   * TypeError names the bad entry).
   */
  readonly collections?: readonly SyncCollection[];
  readonly direction?: SyncDirection;
  /** Keep the live Subscribe stream open (default true); false polls with Pull every pullInterval. */
  readonly useWebSocket?: boolean;
  readonly pullInterval?: number;
  readonly conflictStrategy?: ConflictStrategy;
  readonly conflictResolver?: CustomConflictResolver;
  readonly autoRetry?: boolean;
  /** The first retry delay in ms; doubles per attempt, with jitter. */
  readonly retryDelay?: number;
  /** Attempts after which the status turns 'error' (pushes stop until the next trigger). */
  readonly maxRetryAttempts?: number;
  /** The longest wait between retries (default 30 s). */
  readonly maxRetryDelay?: number;
  /** "connect" (default), "grpc-web", "grpc" (Node entry only) or a ready Transport. */
  readonly transport?: TransportKind | Transport;
  /** Changes per push and per pull page (default 100; pushes at most 500). */
  readonly batchSize?: number;
  /** Heartbeat interval asked of the server (default 10 s); three silent intervals end the stream. */
  readonly heartbeatInterval?: number;
  /** Random source for jitter (tests). */
  readonly random?: () => number;
}

export interface SyncError {
  /** What failed: a push or pull call, the stream, or a change the server rejected. */
  readonly kind: "push" | "pull" | "rejected";
  readonly error: ConnectError;
  readonly collection?: string;
  readonly documentId?: string;
}

export interface SyncEngine {
  start(): Promise<void>;
  /** Pushes everything pending and pulls everything new, now. Rejects if either fails. */
  forceSync(): Promise<void>;
  stop(): Promise<void>;
  destroy(): void;
  /** Uses a new token from now on and re-opens the live stream with it. */
  setAuthToken(token: string): void;
  getStatus(): Observable<SyncStatus>;
  getStats(): Observable<SyncStats>;
  /** Failed calls and rejected changes. */
  readonly errors$: Observable<SyncError>;
}

/** Anything the engine can sync: a SyncStore, or a database that exposes one. */
export type Syncable = SyncStore | { readonly syncStore: SyncStore };
