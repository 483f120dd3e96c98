// The contract between the sync engine and a local database ("bring your own
// database"). The engine in ./engine depends only on this interface; the
// database in ./db implements it, and so can any other store that keeps these
// promises:
//
//   1. Every local write puts the document and its pending change (the outbox
//      entry) in ONE atomic write, with a fresh client sequence, strictly
//      increasing for the life of the store (docs/PROTOCOL.md §9.1, §9.2).
//   2. `pendingChanges` returns at most one change per document: its latest
//      state, with the client sequence of its last write, oldest first.
//   3. Each method that answers a push (`acknowledge`, `adoptServerState`,
//      `rebase`, `reject`) first checks that the document's pending change
//      still has the client sequence the engine pushed; when a newer local write
//      has replaced it, the newer write stays pending (see the method docs).
//   4. `applyRemoteChanges` never adds to the outbox, keeps the local state and
//      base revision of a document with a pending change (§9.5), and stores the
//      checkpoint in the same atomic write as the changes (§9.4).
import type { Observable } from "rxjs";
import type { JsonObject, Timestamp } from "../../common/src/index.js";

/** A local change waiting to be pushed: the document's latest local state. */
export interface PendingChange {
  readonly collection: string;
  readonly documentId: string;
  /** The client sequence of the document's last local write (the idempotency key). */
  readonly clientSequence: bigint;
  /** The document without reserved keys; null when the local state is a tombstone. */
  readonly document: JsonObject | null;
  /** The server revision this change is based on; "" when the server's copy was never seen. */
  readonly baseRevision: string;
  /** The server's document at `baseRevision`, when known (for three-way merge). */
  readonly baseDocument?: JsonObject | null;
  /** The hybrid logical clock timestamp of the last local write. */
  readonly timestamp: Timestamp;
}

/** A committed server state of a document (from a pull, a stream, or a push result). */
export interface RemoteChange {
  readonly collection: string;
  readonly documentId: string;
  /** Null for a tombstone. */
  readonly document: JsonObject | null;
  readonly revision: string;
  readonly serverSequence: bigint;
  readonly timestamp: Timestamp;
  /** The client whose change produced this state. */
  readonly clientId: string;
  /**
   * A removal (PROTOCOL §13.6): the principal may no longer read the
   * document. The local copy goes; nothing is pushed, no tombstone is kept.
   */
  readonly removed?: boolean;
}

/** A pushed change and what the server committed for it. */
export interface Acknowledgement {
  readonly change: PendingChange;
  readonly accepted: { readonly revision: string; readonly serverSequence: bigint };
}

export interface ApplyOptions {
  /**
   * Resync mode (PROTOCOL §8.4): apply every change whose revision differs from
   * the local one, even when its server sequence is not above the one last seen
   * (an epoch change may restart sequences).
   */
  readonly resync?: boolean;
}

export interface SyncStore {
  /** The client id: random, stable for the life of the store. */
  clientId(): Promise<string>;
  /** Emits after every local write that added to the outbox. */
  readonly outboxChanged: Observable<void>;
  /** Pending changes of the given collections (every collection when empty), oldest first, one per document. */
  pendingChanges(collections: readonly string[], limit: number): Promise<PendingChange[]>;
  /** Number of pending changes in the given collections (every collection when empty). */
  pendingCount(collections: readonly string[]): Promise<number>;
  /**
   * The server committed `change` as sent. Records the revision as the
   * document's base and drops the pending change, unless a newer local write
   * replaced it (then only the base moves) or the store already knows a later
   * server state (then that state is adopted).
   */
  acknowledge(change: PendingChange, accepted: { revision: string; serverSequence: bigint }): Promise<void>;
  /**
   * Optional: acknowledges the accepted changes of one push together, with the
   * same effect as `acknowledge` for each, in ONE atomic write (if it fails,
   * every change stays pending with its client sequence and is pushed again).
   * The engine uses it when present; a store without it is acknowledged change
   * by change.
   */
  acknowledgeAll?(acks: readonly Acknowledgement[]): Promise<void>;
  /** The server settled the change: adopt `current` (PROTOCOL §7.2) and drop the pending change. */
  adoptServerState(change: PendingChange, current: RemoteChange): Promise<void>;
  /**
   * The client settled a reported conflict: write `document` (null = delete) as
   * a new local change based on `current.revision`, with a new client sequence.
   * Returns false (and writes nothing) if a newer local write replaced `change`.
   */
  rebase(change: PendingChange, current: RemoteChange, document: JsonObject | null): Promise<boolean>;
  /** The server refused the change: drop it and restore the last known server state. */
  reject(change: PendingChange): Promise<void>;
  /** Applies server changes (never pushed back) and then stores `checkpoint`, atomically. */
  applyRemoteChanges(changes: readonly RemoteChange[], checkpoint: Uint8Array | undefined, options?: ApplyOptions): Promise<void>;
  /**
   * Ends a resync (PROTOCOL §8.4): deletes every document of `collections`
   * (of every collection when empty) that has no pending change and whose id
   * is not in `seen`, and stores the checkpoint, atomically.
   */
  finishResync(collections: readonly string[], seen: ReadonlyMap<string, ReadonlySet<string>>, checkpoint: Uint8Array): Promise<void>;
  /** The last stored checkpoint, as stored (opaque bytes). */
  getCheckpoint(): Promise<Uint8Array | undefined>;
}
