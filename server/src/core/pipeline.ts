// The sequencing logic: every write goes through this pipeline, one commit
// group at a time. A group runs inside `Storage.commitGroup`: its jobs run one
// after another against an overlay of the group's earlier writes, reading
// through the group's reader (inside its transaction, so nothing another
// server commits can slip in between a read and the write that depends on
// it), take strictly increasing sequences after the storage's last one, and
// the whole group is written in ONE storage batch (group commit: concurrent
// pushes share one transaction, one synced write). What a group committed is
// handed to the commit feed, which publishes it to readers in sequence order
// (PROTOCOL §4.2).
//
// While the storage cannot write (not yet open, or its database is away), the
// pipeline is suspended: jobs fail at once with a retryable `unavailable`.
import { isStorageUnavailable } from "../storage/errors.js";
import { ErrorReason, SyncFailure } from "./failures.js";
import type { OwnCommit } from "./commit-feed.js";
import { prefetched, type JobReads } from "./prefetch.js";
import {
  ClientIdAlreadyBound,
  IdempotencyKeyTaken,
  type ClientOwner,
  type CommitBatch,
  type DocumentKey,
  type GroupReader,
  type IdempotencyRecord,
  type IndexEntry,
  type Storage,
  type StoredChange,
  type SupersededState,
} from "../storage/types.js";

const MAX_JOBS_PER_GROUP = 256;

const keyOf = (collection: string, documentId: string) => `${collection}\u0000${documentId}`;

/** What a job sees and stages: reads fall through to the group, then storage. */
export class Transaction {
  readonly changes: StoredChange[] = [];
  readonly records: IdempotencyRecord[] = [];
  readonly history: StoredChange[] = [];
  readonly superseded: SupersededState[] = [];
  readonly indexEntries: IndexEntry[] = [];
  readonly owners: ClientOwner[] = [];
  private readonly documents = new Map<string, StoredChange>();
  private readonly recordIndex = new Map<string, IdempotencyRecord>();
  private readonly ownerIndex = new Map<string, string>();

  constructor(
    private readonly parent: Transaction | undefined,
    private readonly storage: GroupReader,
    private readonly sequences: { next: () => bigint },
  ) {}

  nextSequence(): bigint {
    return this.sequences.next();
  }

  async getDocuments(keys: readonly DocumentKey[]): Promise<Array<StoredChange | undefined>> {
    const found = keys.map((k) => this.lookupDocument(keyOf(k.collection, k.documentId)));
    const missing = keys.filter((_, i) => found[i] === undefined);
    const fromStorage = missing.length ? await this.storage.getDocuments(missing) : [];
    let next = 0;
    return found.map((f) => f ?? fromStorage[next++]);
  }

  async getIdempotencyRecords(clientId: string, sequences: readonly bigint[]): Promise<Array<IdempotencyRecord | undefined>> {
    const found = sequences.map((s) => this.lookupRecord(`${clientId}\u0000${s}`));
    const missing = sequences.filter((_, i) => found[i] === undefined);
    const fromStorage = missing.length ? await this.storage.getIdempotencyRecords(clientId, missing) : [];
    let next = 0;
    return found.map((f) => f ?? fromStorage[next++]);
  }

  /** The principal `clientId` is bound to, counting bindings staged earlier in the group. */
  async getClientOwner(clientId: string): Promise<string | undefined> {
    return this.lookupOwner(clientId) ?? this.storage.getClientOwner(clientId);
  }

  /** Stages a binding: the caller saw `clientId` unbound through getClientOwner. */
  bindClient(clientId: string, principal: string): void {
    this.owners.push({ clientId, principal });
    this.ownerIndex.set(clientId, principal);
  }

  write(change: StoredChange, record?: IdempotencyRecord): void {
    this.changes.push(change);
    this.documents.set(keyOf(change.event.collection, change.event.documentId), change);
    if (record) {
      this.records.push(record);
      this.recordIndex.set(`${record.clientId}\u0000${record.clientSequence}`, record);
    }
  }

  /** Keeps a superseded state by revision, for three-way merges later. */
  keep(superseded: StoredChange): void {
    this.history.push(superseded);
  }

  /** Keeps a superseded state by the sequence that superseded it, for read rules (PROTOCOL §13.6). */
  supersede(state: SupersededState): void {
    this.superseded.push(state);
  }

  /** Stages index entries of a change this transaction writes (PROTOCOL §4.11). */
  index(entries: readonly IndexEntry[]): void {
    for (const entry of entries) this.indexEntries.push(entry);
  }

  getHistoricState(collection: string, documentId: string, revision: string): Promise<StoredChange | undefined> {
    return this.storage.getHistoricState(collection, documentId, revision);
  }

  /** Folds a finished job's writes into its group. */
  mergeInto(group: Transaction): void {
    for (const change of this.changes) group.write(change);
    for (const kept of this.history) group.keep(kept);
    for (const state of this.superseded) group.supersede(state);
    group.index(this.indexEntries);
    for (const record of this.records) {
      group.records.push(record);
      group.recordIndex.set(`${record.clientId}\u0000${record.clientSequence}`, record);
    }
    for (const owner of this.owners) group.bindClient(owner.clientId, owner.principal);
  }

  private lookupDocument(key: string): StoredChange | undefined {
    return this.documents.get(key) ?? this.parent?.lookupDocument(key);
  }
  private lookupRecord(key: string): IdempotencyRecord | undefined {
    return this.recordIndex.get(key) ?? this.parent?.lookupRecord(key);
  }
  private lookupOwner(clientId: string): string | undefined {
    return this.ownerIndex.get(clientId) ?? this.parent?.lookupOwner(clientId);
  }
}

type Job = {
  run: (tx: Transaction) => Promise<unknown>;
  reads: JobReads | undefined;
  resolve: (value: Committed<unknown>) => void;
  reject: (error: unknown) => void;
};

/** A job's result once its group committed, with the position the group reached. */
export interface Committed<T> {
  readonly result: T;
  /** Every change the group committed has a sequence at or below it. */
  readonly position: bigint;
}

/** A storage failure as the core reports it: unreachable storage is retryable. */
export function asFailure(error: unknown): unknown {
  if (!isStorageUnavailable(error)) return error;
  return new SyncFailure("unavailable", ErrorReason.UNAVAILABLE, `${error.message}; retry`);
}

/** Another commit took a key the group meant to take; nothing was written, and a retry sees it. */
function isConcurrentKey(error: unknown): error is ClientIdAlreadyBound | IdempotencyKeyTaken {
  return error instanceof ClientIdAlreadyBound || error instanceof IdempotencyKeyTaken;
}

export class CommitPipeline {
  private queue: Job[] = [];
  private exclusiveQueue: Array<() => Promise<void>> = [];
  private running: Promise<void> | undefined;
  private closed = false;
  /** Set while writes cannot succeed; jobs fail with it at once. */
  private suspended: SyncFailure | undefined;
  /** Bumped at every suspension: a group begun before one never commits after it. */
  private generation = 0;

  /** Starts suspended until `resume` (the storage is not open yet). */
  constructor(
    private readonly storage: Storage,
    private readonly options: { sync: boolean },
    /** Hears every group that committed changes. */
    private readonly committed: (commit: OwnCommit) => void,
  ) {
    this.suspend("the storage is not open yet");
  }

  /**
   * Runs `job` in the next commit group; resolves once its writes are
   * durable. `reads`, what the job will read, is read for the whole group at
   * once as it starts.
   */
  submit<T>(job: (tx: Transaction) => Promise<T>, reads?: JobReads): Promise<Committed<T>> {
    if (this.closed) {
      // Retryable: another instance, or this one restarted, will take it.
      return Promise.reject(new SyncFailure("unavailable", ErrorReason.UNAVAILABLE, "the server is shutting down; retry"));
    }
    if (this.suspended) return Promise.reject(this.suspended);
    return new Promise<Committed<T>>((resolve, reject) => {
      this.queue.push({ run: job, reads, resolve: resolve as (v: Committed<unknown>) => void, reject });
      this.kick();
    });
  }

  /** Runs `task` with no commit group in flight. */
  exclusive(task: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.exclusiveQueue.push(() => task().then(resolve, reject));
      this.kick();
    });
  }

  /** Writes cannot succeed (`reason` says why): fail queued and new jobs at once, commit nothing begun before. */
  suspend(reason: string): void {
    this.generation++;
    this.suspended = new SyncFailure("unavailable", ErrorReason.UNAVAILABLE, `the server cannot write right now: ${reason}; retry`);
    for (const job of this.queue.splice(0)) job.reject(this.suspended);
  }

  /**
   * Writes can succeed again. Runs with no group in flight; does nothing if
   * suspended again before it ran. Resolves true once resumed.
   */
  resume(): Promise<boolean> {
    const generation = this.generation;
    let resumed = false;
    return this.exclusive(async () => {
      if (generation !== this.generation || this.closed) return;
      this.suspended = undefined;
      resumed = true;
    }).then(() => resumed);
  }

  /** Stops taking jobs and waits for those already taken. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await this.running;
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.queue.length || this.exclusiveQueue.length) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length || this.exclusiveQueue.length) {
      const task = this.exclusiveQueue.shift();
      if (task) {
        await task();
        continue;
      }
      await this.runGroup(this.queue.splice(0, MAX_JOBS_PER_GROUP));
    }
  }

  private async runGroup(jobs: Job[]): Promise<void> {
    const generation = this.generation;
    const done: Array<{ job: Job; result: unknown }> = [];
    /** Jobs not answered yet: those that ran, and those a failing group never ran. */
    const unanswered = new Set(jobs);
    let changes: readonly StoredChange[] = [];
    let committed;
    try {
      committed = await this.storage.commitGroup(async (storageReader, lastSequence) => {
        const reader = await prefetched(storageReader, jobs.flatMap((job) => (job.reads ? [job.reads] : [])));
        let assigned = lastSequence;
        const sequences = { next: () => ++assigned };
        const group = new Transaction(undefined, reader, sequences);
        for (const job of jobs) {
          const tx = new Transaction(group, reader, sequences);
          try {
            const result = await job.run(tx);
            tx.mergeInto(group);
            done.push({ job, result });
          } catch (error) {
            unanswered.delete(job);
            job.reject(asFailure(error));
          }
        }
        if (this.suspended || generation !== this.generation) {
          // Suspended while the group ran: the storage it read may have been
          // away meanwhile; it commits nothing.
          throw this.suspended ?? new SyncFailure("unavailable", ErrorReason.UNAVAILABLE, "the server lost its storage meanwhile; retry");
        }
        changes = group.changes;
        const batch: CommitBatch = {
          changes: group.changes,
          history: group.history,
          superseded: group.superseded,
          index: group.indexEntries,
          idempotency: group.records,
          owners: group.owners,
          lastSequence: assigned,
        };
        return { batch, result: undefined };
      }, this.options);
    } catch (error) {
      // Usually nothing of the group was written. A connection lost during
      // COMMIT leaves the outcome unknown: if it was written, the commit
      // feed finds it in storage before publishing anything above it. (A key
      // taken meanwhile by another commit is a refusal: nothing was written,
      // and a retry answers from what that commit stored.)
      const failure = isConcurrentKey(error)
        ? new SyncFailure("unavailable", ErrorReason.UNAVAILABLE, `${error.message}; retry`)
        : error instanceof SyncFailure ? error : asFailure(error);
      for (const job of unanswered) job.reject(failure);
      return;
    }
    const position = committed.lastSequence;
    for (const { job, result } of done) job.resolve({ result, position });
    if (committed.lastSequence > committed.after) this.committed({ after: committed.after, lastSequence: committed.lastSequence, changes });
  }
}
