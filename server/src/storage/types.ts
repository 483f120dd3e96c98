// The one interface every server storage implements (LevelDB, memory, ...).
// It knows nothing of conflicts or the wire: the core decides what to write,
// storage writes it atomically and reads it back in sequence order.
import type { ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";

/**
 * A committed change: the latest state of one document. The event is the wire
 * message itself (server fields filled in), so pulls return it as stored.
 */
export interface StoredChange {
  readonly event: ChangeEvent;
  /** Server wall time of the commit, for tombstone and idempotency retention. */
  readonly committedAtMs: number;
}

/** What a committed push change produced, kept for idempotent retries (PROTOCOL §12). */
export interface IdempotencyRecord {
  readonly clientId: string;
  readonly clientSequence: bigint;
  /** Fingerprint of the pushed change, to detect a reused key with other content. */
  readonly fingerprint: string;
  readonly outcome: "accepted" | "resolved";
  /** Sequence of the change the push committed; its revision identifies it. */
  readonly serverSequence: bigint;
  readonly revision: string;
  /** For a resolved outcome: the committed change, as reported the first time. */
  readonly resolved?: StoredChange;
  readonly strategy?: string;
  readonly committedAtMs: number;
}

export interface StorageMeta {
  /** Identity of this data set (PROTOCOL §8.3); fixed when the storage is created. */
  readonly epoch: string;
  /** The highest server sequence ever committed. */
  readonly lastSequence: bigint;
  /** Per collection, the highest sequence of a purged tombstone. */
  readonly purgedThrough: Readonly<Record<string, bigint>>;
}

/**
 * The principal a client id belongs to (PROTOCOL §12.5): bound by the first
 * push that commits under it, never changed, never purged.
 */
export interface ClientOwner {
  readonly clientId: string;
  readonly principal: string;
}

/**
 * A commit tried to bind a client id that is already bound. Nothing of the
 * batch was written. Only a second writer on the same data can cause it (the
 * commit pipeline reads the binding before staging one); a retry sees the
 * binding.
 */
export class ClientIdAlreadyBound extends Error {
  constructor(readonly clientId: string) {
    super(`client id "${clientId}" was bound concurrently by another commit`);
    this.name = "ClientIdAlreadyBound";
  }
}

/** Everything one commit group writes; applied all or nothing. */
export interface CommitBatch {
  /** New latest states. A document's previous index entry is replaced. */
  readonly changes: readonly StoredChange[];
  /**
   * Superseded states worth keeping by revision, so a later conflict based on
   * them can be merged three-way; `committedAtMs` is when they were superseded.
   */
  readonly history?: readonly StoredChange[];
  readonly idempotency: readonly IdempotencyRecord[];
  /**
   * New client-id bindings. Binding a client id that is already bound fails
   * the whole batch with ClientIdAlreadyBound (a constraint, not a check the
   * caller could race).
   */
  readonly owners?: readonly ClientOwner[];
  readonly lastSequence: bigint;
}

export interface DocumentKey {
  readonly collection: string;
  readonly documentId: string;
}

export interface PurgeResult {
  readonly tombstonesPurged: number;
  readonly idempotencyRecordsPurged: number;
  readonly purgedThrough: Readonly<Record<string, bigint>>;
}

/**
 * Whether writes can succeed, as a storage backed by a server learns it after
 * open(): "unavailable" when they cannot (emitted again at each failed attempt
 * to recover, with the delay before the next), "available" once they can
 * again, with the metadata as persisted NOW: others may have written meanwhile,
 * so the core must take it up before writing.
 */
export type StorageEvent =
  | { readonly kind: "unavailable"; readonly reason: string; readonly retryInMs?: number }
  | { readonly kind: "available"; readonly meta: StorageMeta };

export interface Storage {
  /**
   * Opens (creating if needed) and returns the persisted metadata. Throws a
   * StorageUnavailableError when the backend cannot be reached (worth
   * retrying), any other error when it never will be (misconfiguration).
   */
  open(): Promise<StorageMeta>;
  /**
   * Follows availability after open(). Storages that are always writable
   * (LevelDB, memory) need not implement it. Every operation of an
   * unavailable storage fails with a StorageUnavailableError.
   */
  watch?(listener: (event: StorageEvent) => void): () => void;
  /** The latest stored change of each document, in the order asked. */
  getDocuments(keys: readonly DocumentKey[]): Promise<Array<StoredChange | undefined>>;
  /** A superseded state kept in `CommitBatch.history`, by its revision. */
  getHistoricState(collection: string, documentId: string, revision: string): Promise<StoredChange | undefined>;
  getIdempotencyRecords(clientId: string, clientSequences: readonly bigint[]): Promise<Array<IdempotencyRecord | undefined>>;
  /** The principal `clientId` is bound to, or undefined while it is unbound. */
  getClientOwner(clientId: string): Promise<string | undefined>;
  /**
   * Writes the batch atomically. With `sync`, returns only once the write is
   * on stable storage (survives power loss); otherwise once it survives the
   * process being killed.
   */
  commit(batch: CommitBatch, options: { sync: boolean }): Promise<void>;
  /**
   * Latest changes of `collection` with afterSequence < sequence <= upToSequence,
   * in increasing sequence, at most `limit`.
   */
  readChanges(collection: string, afterSequence: bigint, upToSequence: bigint, limit: number): Promise<StoredChange[]>;
  /**
   * Removes tombstones older than `cutoffMs`, raising the purge watermarks,
   * and kept history and idempotency records older than `recordsCutoffMs`
   * (default `cutoffMs`; the core never passes a later one: records
   * outlive tombstones, PROTOCOL §12.4), atomically.
   * Client-id bindings are kept.
   */
  purge(cutoffMs: number, recordsCutoffMs?: number): Promise<PurgeResult>;
  close(): Promise<void>;
}
