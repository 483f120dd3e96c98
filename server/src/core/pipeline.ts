// The sequencing logic: every write goes through this pipeline, one commit
// group at a time. Within a group, jobs run one after another against an
// overlay of the group's earlier writes, take strictly increasing sequences,
// and the whole group is written in ONE storage batch (group commit: with
// fsync on, concurrent pushes share one synced write). Changes become visible
// to readers only after their batch is durable, and in sequence order, which
// is what makes checkpoints safe (PROTOCOL §4.2).
//
// While the storage cannot write (not yet open, or its database is away), the
// pipeline is suspended: jobs fail at once with a retryable `unavailable`. It
// resumes from the storage's persisted last sequence, never below what
// readers were already given.
import { isStorageUnavailable } from "../storage/errors.js";
import { ErrorReason, SyncFailure } from "./failures.js";
import {
  ClientIdAlreadyBound,
  type ClientOwner,
  type CommitBatch,
  type DocumentKey,
  type IdempotencyRecord,
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
  readonly owners: ClientOwner[] = [];
  private readonly documents = new Map<string, StoredChange>();
  private readonly recordIndex = new Map<string, IdempotencyRecord>();
  private readonly ownerIndex = new Map<string, string>();

  constructor(
    private readonly parent: Transaction | undefined,
    private readonly storage: Storage,
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

  getHistoricState(collection: string, documentId: string, revision: string): Promise<StoredChange | undefined> {
    return this.storage.getHistoricState(collection, documentId, revision);
  }

  /** Folds a finished job's writes into its group. */
  mergeInto(group: Transaction): void {
    for (const change of this.changes) group.write(change);
    for (const kept of this.history) group.keep(kept);
    for (const state of this.superseded) group.supersede(state);
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
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
};

/**
 * Hears every durable commit, in sequence order. `complete` is false when
 * changes at or below `visibleSequence` may be missing from `changes` (a
 * commit whose outcome was unknown, or one written while this process could
 * not write): readers must then catch up from storage.
 */
export type CommitListener = (changes: readonly StoredChange[], visibleSequence: bigint, complete: boolean) => void;

/** A storage failure as the core reports it: unreachable storage is retryable. */
export function asFailure(error: unknown): unknown {
  if (!isStorageUnavailable(error)) return error;
  return new SyncFailure("unavailable", ErrorReason.UNAVAILABLE, `${error.message}; retry`);
}

export class CommitPipeline {
  private queue: Job[] = [];
  private exclusiveQueue: Array<() => Promise<void>> = [];
  private running: Promise<void> | undefined;
  private assigned: bigint;
  private visible: bigint;
  private readonly listeners = new Set<CommitListener>();
  private closed = false;
  /** Set while writes cannot succeed; jobs fail with it at once. */
  private suspended: SyncFailure | undefined;
  /** Bumped at every suspension: a group begun before one never commits after it. */
  private generation = 0;
  /** Changes at or below `visible` may have been committed without being published. */
  private incomplete = false;

  /** Starts suspended when `lastSequence` is not known yet (see resume). */
  constructor(
    private readonly storage: Storage,
    lastSequence: bigint | undefined,
    private readonly options: { sync: boolean },
  ) {
    this.assigned = lastSequence ?? 0n;
    this.visible = lastSequence ?? 0n;
    if (lastSequence === undefined) this.suspend("the storage is not open yet");
  }

  /** The highest sequence below which every commit is durable and readable. */
  get visibleSequence(): bigint {
    return this.visible;
  }

  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs `job` in the next commit group; resolves once its writes are durable. */
  submit<T>(job: (tx: Transaction) => Promise<T>): Promise<T> {
    if (this.closed) {
      // Retryable: another instance, or this one restarted, will take it.
      return Promise.reject(new SyncFailure("unavailable", ErrorReason.UNAVAILABLE, "the server is shutting down; retry"));
    }
    if (this.suspended) return Promise.reject(this.suspended);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: job, resolve: resolve as (v: unknown) => void, reject });
      this.kick();
    });
  }

  /** Runs `task` with no commit group in flight (e.g. purging tombstones). */
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
   * Writes can succeed again, from `lastSequence` as the storage persisted it
   * (others may have written meanwhile). Runs with no group in flight; does
   * nothing if suspended again before it ran. Refuses, staying suspended, a
   * storage that went back in time (sequences already given out would be
   * reused). Resolves true once resumed.
   */
  resume(lastSequence: bigint): Promise<boolean> {
    const generation = this.generation;
    let resumed = false;
    return this.exclusive(async () => {
      if (generation !== this.generation || this.closed) return;
      if (lastSequence < this.visible) {
        this.suspend(`the storage's last sequence ${lastSequence} is below ${this.visible}, which readers were already given (was the database restored from a backup?)`);
        throw new Error(`cannot resume writing: the storage went back from sequence ${this.visible} to ${lastSequence}`);
      }
      if (lastSequence > this.visible) {
        this.visible = lastSequence;
        this.incomplete = true;
      }
      if (lastSequence > this.assigned) this.assigned = lastSequence;
      this.suspended = undefined;
      resumed = true;
      if (this.incomplete) this.announce([]);
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
    const sequences = { next: () => ++this.assigned };
    const group = new Transaction(undefined, this.storage, sequences);
    const done: Array<{ job: Job; result: unknown }> = [];
    for (const job of jobs) {
      const tx = new Transaction(group, this.storage, sequences);
      try {
        const result = await job.run(tx);
        tx.mergeInto(group);
        done.push({ job, result });
      } catch (error) {
        job.reject(asFailure(error));
      }
    }
    if (group.changes.length === 0 && group.records.length === 0 && group.history.length === 0 && group.owners.length === 0) {
      for (const { job, result } of done) job.resolve(result);
      return;
    }
    if (this.suspended || generation !== this.generation) {
      // Suspended while the group ran: what it read may be stale by now.
      const failure = this.suspended ?? new SyncFailure("unavailable", ErrorReason.UNAVAILABLE, "the server lost its storage meanwhile; retry");
      for (const { job } of done) job.reject(failure);
      return;
    }
    const batch: CommitBatch = {
      changes: group.changes,
      history: group.history,
      superseded: group.superseded,
      idempotency: group.records,
      owners: group.owners,
      lastSequence: this.assigned,
    };
    try {
      await this.storage.commit(batch, this.options);
    } catch (error) {
      // Usually nothing of the group was written and its sequences are never
      // used. But a connection lost during COMMIT leaves the outcome unknown:
      // if it was written, the next publication must send readers to storage.
      // (A client id bound meanwhile by another writer is a refusal: nothing
      // was written.)
      const refused = error instanceof ClientIdAlreadyBound;
      if (!refused) this.incomplete = true;
      const failure = refused ? new SyncFailure("unavailable", ErrorReason.UNAVAILABLE, `${error.message}; retry`) : asFailure(error);
      for (const { job } of done) job.reject(failure);
      return;
    }
    this.visible = this.assigned;
    for (const { job, result } of done) job.resolve(result);
    this.announce(group.changes);
  }

  private announce(changes: readonly StoredChange[]): void {
    const complete = !this.incomplete;
    this.incomplete = false;
    for (const listener of this.listeners) listener(changes, this.visible, complete);
  }
}
