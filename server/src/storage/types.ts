// The one interface every server storage implements (LevelDB, memory, ...).
// It knows nothing of conflicts or the wire: the core decides what to write,
// storage writes it atomically and reads it back in sequence order.
import type { ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { IndexSpec } from "./index-values.js";

export type { IndexSpec };

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
 * batch was written. The commit pipeline reads the binding inside its group
 * before staging one, so only a writer that bypasses it can cause this; a
 * retry sees the binding.
 */
export class ClientIdAlreadyBound extends Error {
  constructor(readonly clientId: string) {
    super(`client id "${clientId}" was bound concurrently by another commit`);
    this.name = "ClientIdAlreadyBound";
  }
}

/**
 * A commit tried to store an idempotency record under a key (client id,
 * client sequence) that already has one. Nothing of the batch was written.
 * As with ClientIdAlreadyBound, the constraint backs the read made inside
 * the group; a retry answers from the stored record.
 */
export class IdempotencyKeyTaken extends Error {
  constructor(readonly clientId: string, readonly clientSequence: bigint) {
    super(`client_sequence ${clientSequence} of client id "${clientId}" was committed concurrently by another commit`);
    this.name = "IdempotencyKeyTaken";
  }
}

/**
 * A state a commit replaced, kept so that a per-document read rule can be
 * judged against the state a reader's checkpoint stands at (PROTOCOL §13.6).
 */
export interface SupersededState {
  readonly event: ChangeEvent;
  /** The sequence of the change that replaced it. */
  readonly supersededBy: bigint;
  /** When it was replaced: it is purged with the tombstone retention from then. */
  readonly supersededAtMs: number;
}

/** Which state of a document to look up: the one it had at `sequence`. */
export interface StateQuery extends DocumentKey {
  readonly sequence: bigint;
}

/** Kept states, each in the order asked, with the purge watermarks of the same view. */
export interface StatesAt {
  readonly states: Array<ChangeEvent | undefined>;
  /**
   * Read with the states, so a state missing because it was purged shows as
   * a watermark above the sequence asked (PROTOCOL §13.6).
   */
  readonly purgedThrough: Readonly<Record<string, bigint>>;
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
  /** Superseded states kept for per-document read rules (PROTOCOL §13.6). */
  readonly superseded?: readonly SupersededState[];
  readonly idempotency: readonly IdempotencyRecord[];
  /**
   * New client-id bindings. Binding a client id that is already bound fails
   * the whole batch with ClientIdAlreadyBound (a constraint, not a check the
   * caller could race).
   */
  readonly owners?: readonly ClientOwner[];
  /**
   * Field index entries of the group's changes (see IndexEntry), written
   * with them or not at all. Their sequences lie in the group's range.
   */
  readonly index?: readonly IndexEntry[];
  /** The highest sequence given in the group; every change's sequence is above the group's start and at most this. */
  readonly lastSequence: bigint;
}

/**
 * One entry of a field index: document `documentId` of `collection` held, or
 * left, `value` (canonical, see index-values.ts) of its top-level `field` at
 * `sequence`. A change of an indexed field writes one for the value of the
 * document's new state (unless a tombstone or not a scalar) and one for the
 * value of its previous state when that differs (the exit entry). Entries
 * are never moved: a filtered reader resuming after P scans the entries of
 * its values above P, and finds every document that matches now (an entry at
 * its latest sequence) and every one that matched at P and no longer does
 * (its exit entry, above P).
 */
export interface IndexEntry {
  readonly collection: string;
  readonly field: string;
  readonly value: string;
  readonly sequence: bigint;
  readonly documentId: string;
}

/** A filtered read of one field index: entries with one of `values`, after < sequence <= upTo. */
export interface IndexQuery {
  readonly collection: string;
  readonly field: string;
  /** Canonical values (index-values.ts); a value given twice counts once. */
  readonly values: readonly string[];
  readonly after: bigint;
  readonly upTo?: bigint;
  readonly limit: number;
}

/** Index entries read in one consistent view, with the position of that view. */
export interface IndexPage {
  /** In increasing sequence, ties by document id; a (sequence, document) found under several values once. */
  readonly entries: ReadonlyArray<{ readonly sequence: bigint; readonly documentId: string }>;
  readonly position: CommittedPosition;
}

/** An index in force: built, and complete for every reader whose position is at or above `since`. */
export interface BuiltIndex extends IndexSpec {
  /**
   * The last sequence committed when the index was first built. Commits
   * after it wrote exit entries; changes at or below it have none, so a
   * reader positioned below it may miss a document that left its values
   * then, and must start over.
   */
  readonly since: bigint;
}

/** What setIndexes changed: spec keys ("todos.listId", "*.ownerId"). */
export interface IndexChanges {
  readonly built: string[];
  readonly dropped: string[];
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

/** Several reads of a commit group at once: its jobs' documents, idempotency keys and client ids. */
export interface BatchRead {
  readonly documents: readonly DocumentKey[];
  readonly records: ReadonlyArray<{ readonly clientId: string; readonly clientSequence: bigint }>;
  readonly owners: readonly string[];
}

/** What a BatchRead found, each list in the order asked (undefined where nothing is stored). */
export interface BatchReadResult {
  readonly documents: Array<StoredChange | undefined>;
  readonly records: Array<IdempotencyRecord | undefined>;
  readonly owners: Array<string | undefined>;
}

/**
 * The reads a commit group makes. Inside `Storage.commitGroup` they run in the
 * group's transaction, after the sequence counter was taken: what they see
 * cannot change until the group commits, on any server sharing the data.
 */
export interface GroupReader {
  /** The latest stored change of each document, in the order asked. */
  getDocuments(keys: readonly DocumentKey[]): Promise<Array<StoredChange | undefined>>;
  /** A superseded state kept in `CommitBatch.history`, by its revision. */
  getHistoricState(collection: string, documentId: string, revision: string): Promise<StoredChange | undefined>;
  getIdempotencyRecords(clientId: string, clientSequences: readonly bigint[]): Promise<Array<IdempotencyRecord | undefined>>;
  /** The principal `clientId` is bound to, or undefined while it is unbound. */
  getClientOwner(clientId: string): Promise<string | undefined>;
  /**
   * All of it in one go: a group reads what its jobs declared up front with
   * this, so a database storage spends one round trip, not several per job,
   * while the group holds the sequence counter.
   */
  readBatch(read: BatchRead): Promise<BatchReadResult>;
}

/**
 * One commit group's work: it reads through `reader`, gives its changes the
 * sequences after `lastSequence` (the highest ever committed, held for the
 * group), and returns what to write (`batch`, with `batch.lastSequence` the
 * highest sequence it gave; undefined to write nothing) and its result.
 */
export type GroupWork<T> = (reader: GroupReader, lastSequence: bigint) => Promise<{ readonly batch?: CommitBatch; readonly result: T }>;

/** A commit group as committed: its result, and the sequences it covers. */
export interface CommittedGroup<T> {
  readonly result: T;
  /** The last sequence committed before the group: it covers (after, lastSequence]. */
  readonly after: bigint;
  /** The highest sequence committed once the group is (equal to `after` when it wrote no change). */
  readonly lastSequence: bigint;
}

/** Where the committed data stands: what a checkpoint is checked against (PROTOCOL §4, §8). */
export interface CommittedPosition {
  /** The highest sequence committed; every commit at or below it is readable. */
  readonly lastSequence: bigint;
  /** Per collection, the highest sequence of a purged tombstone. */
  readonly purgedThrough: Readonly<Record<string, bigint>>;
}

/** A page of changes read in one consistent view, with the position of that view. */
export interface ChangesPage {
  readonly position: CommittedPosition;
  /** Per collection asked, in the order asked: its latest changes in increasing sequence. */
  readonly changes: readonly StoredChange[][];
}

/**
 * Whether writes can succeed, as a storage backed by a server learns it after
 * open(): "unavailable" when they cannot (emitted again at each failed attempt
 * to recover, with the delay before the next), "available" once they can
 * again, with the metadata as persisted NOW: others may have written meanwhile,
 * so the core must take it up before writing. A storage shared by several
 * servers also tells of their commits: "committed" when every sequence up to
 * `lastSequence` is committed (by any server, this one included).
 */
export type StorageEvent =
  | { readonly kind: "unavailable"; readonly reason: string; readonly retryInMs?: number }
  | { readonly kind: "available"; readonly meta: StorageMeta }
  | { readonly kind: "committed"; readonly lastSequence: bigint };

export interface Storage extends GroupReader {
  /**
   * Opens (creating if needed) and returns the persisted metadata. Throws a
   * StorageUnavailableError when the backend cannot be reached (worth
   * retrying), any other error when it never will be (misconfiguration).
   */
  open(): Promise<StorageMeta>;
  /**
   * Follows availability (and, when shared, others' commits) after open().
   * Storages that are always writable (LevelDB, memory) need not implement
   * it. Every operation of an unavailable storage fails with a
   * StorageUnavailableError.
   */
  watch?(listener: (event: StorageEvent) => void): () => void;
  /**
   * Runs one commit group, serialized with every other group on the data
   * (whichever server runs it): `work` reads through the reader, and its
   * batch is written atomically with the sequence counter, or nothing is.
   * Groups therefore commit, and become readable, in sequence order (PROTOCOL
   * §4.2). With `sync`, resolves only once the write is on stable storage
   * (survives power loss); otherwise once it survives the process being
   * killed. A failure of `work` (or of one of its reads) writes nothing.
   * Binding a client id that is already bound fails the whole group with
   * ClientIdAlreadyBound; reusing an idempotency key with
   * IdempotencyKeyTaken.
   */
  commitGroup<T>(work: GroupWork<T>, options: { sync: boolean }): Promise<CommittedGroup<T>>;
  /** The committed position now. */
  readPosition(): Promise<CommittedPosition>;
  /**
   * In one consistent view: the committed position, and for each
   * [collection, after] the latest changes with after < sequence <= the
   * position's last sequence (and <= `upTo` when given), in increasing
   * sequence, at most `limit` per collection.
   */
  readPage(from: ReadonlyArray<readonly [collection: string, after: bigint]>, limit: number, upTo?: bigint): Promise<ChangesPage>;
  /**
   * For a storage shared by several servers: the latest changes of every
   * collection with after < sequence <= min(upTo, the last committed
   * sequence), in increasing sequence, at most `limit`, and that last
   * committed sequence. A server reads others' commits with it, in order.
   */
  readCommitted?(after: bigint, upTo: bigint, limit: number): Promise<{ readonly changes: StoredChange[]; readonly lastSequence: bigint }>;
  /**
   * Every collection holding a stored change (a tombstone included), in byte
   * order of their names. Costs a step per collection, not per document: it
   * answers every pull and subscribe that names no collection (PROTOCOL §4.8).
   * Every collection with a change at or below a position read before it is
   * listed.
   */
  listCollections(): Promise<string[]>;
  /**
   * The state each document had at a sequence, among the states kept in
   * `CommitBatch.superseded`: the one whose own sequence is at or below it
   * and whose successor's is above. Undefined when none is kept (the document
   * did not exist then, its state then is still its latest, or it was purged).
   */
  getStatesAt(queries: readonly StateQuery[]): Promise<StatesAt>;
  /**
   * Removes tombstones and superseded states older than `cutoffMs`, raising
   * the purge watermarks atomically with their removal: to a purged
   * tombstone's sequence, and to the sequence that superseded a purged
   * superseded state. Removes kept history and idempotency records older than
   * `recordsCutoffMs` (default `cutoffMs`; the core never passes a later one:
   * records outlive tombstones, PROTOCOL §12.4). Client-id bindings are kept.
   * On a shared storage one server purges at a time; another one's concurrent
   * call returns at once with nothing purged.
   */
  purge(cutoffMs: number, recordsCutoffMs?: number): Promise<PurgeResult>;
  /**
   * Makes the persisted set of field indexes equal `specs`; called once after
   * open(). A spec not yet built is backfilled from the latest state of every
   * document of its collections (an entry at each document's latest
   * sequence; tombstones give none), in chunks serialized with commit
   * groups: a group between two chunks writes its own entries, so the caller
   * must already pass, in every commit, the entries of every spec given
   * here. The entries of a persisted spec no longer given are deleted
   * (unless another spec still covers them). Idempotent; a spec is in
   * indexes() only once built. On a storage shared by several servers the
   * set is the database's: once one server changed it, the commit groups of
   * a server still on another set fail with a StorageUnavailableError until
   * it is restarted with the same set.
   */
  setIndexes(specs: readonly IndexSpec[]): Promise<IndexChanges>;
  /**
   * Records the name of the read rule the server applies (PROTOCOL §13.7).
   * When the name persisted differs, and anything was ever committed, takes
   * the sequence after the last committed one (no change gets it) and
   * raises the purge watermark of every collection holding a change (and of
   * every one with a watermark) to it, atomically with recording the name
   * and serialized with commit groups: every checkpoint holding a position
   * from before is refused with RESYNC_REQUIRED. Returns whether the name
   * changed. Data sets from before read rules were named hold the name "".
   */
  setReadRule(name: string): Promise<boolean>;
  /** The indexes in force (built), with the sequence each is complete from. */
  indexes(): readonly BuiltIndex[];
  /**
   * In one consistent view with the committed position: the entries of a
   * field index with a value among `values` and after < sequence <=
   * min(upTo, position.lastSequence), in increasing sequence (ties by
   * document id), at most `limit`. Costs the entries returned plus a seek per
   * value, never the collection's size. A purge removes the entries at or
   * below a collection's watermark except those at a document's latest
   * sequence: a reader resuming below it must start over, and one starting
   * over finds every document's latest state.
   */
  readIndex(query: IndexQuery): Promise<IndexPage>;
  close(): Promise<void>;
}
