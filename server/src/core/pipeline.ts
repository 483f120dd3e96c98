// The sequencing logic: every write goes through this pipeline, one commit
// group at a time. Within a group, jobs run one after another against an
// overlay of the group's earlier writes, take strictly increasing sequences,
// and the whole group is written in ONE storage batch (group commit: with
// fsync on, concurrent pushes share one synced write). Changes become visible
// to readers only after their batch is durable, and in sequence order, which
// is what makes checkpoints safe (PROTOCOL §4.2).
import { ErrorReason, SyncFailure } from "./failures.js";
import { ClientIdAlreadyBound, type ClientOwner, type CommitBatch, type DocumentKey, type IdempotencyRecord, type Storage, type StoredChange } from "../storage/types.js";

const MAX_JOBS_PER_GROUP = 256;

const keyOf = (collection: string, documentId: string) => `${collection}\u0000${documentId}`;

/** What a job sees and stages: reads fall through to the group, then storage. */
export class Transaction {
  readonly changes: StoredChange[] = [];
  readonly records: IdempotencyRecord[] = [];
  readonly history: StoredChange[] = [];
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

  getHistoricState(collection: string, documentId: string, revision: string): Promise<StoredChange | undefined> {
    return this.storage.getHistoricState(collection, documentId, revision);
  }

  /** Folds a finished job's writes into its group. */
  mergeInto(group: Transaction): void {
    for (const change of this.changes) group.write(change);
    for (const kept of this.history) group.keep(kept);
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

export type CommitListener = (changes: readonly StoredChange[], visibleSequence: bigint) => void;

export class CommitPipeline {
  private queue: Job[] = [];
  private exclusiveQueue: Array<() => Promise<void>> = [];
  private running: Promise<void> | undefined;
  private assigned: bigint;
  private visible: bigint;
  private readonly listeners = new Set<CommitListener>();
  private closed = false;

  constructor(
    private readonly storage: Storage,
    lastSequence: bigint,
    private readonly options: { sync: boolean },
  ) {
    this.assigned = lastSequence;
    this.visible = lastSequence;
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
        job.reject(error);
      }
    }
    if (group.changes.length === 0 && group.records.length === 0 && group.history.length === 0 && group.owners.length === 0) {
      for (const { job, result } of done) job.resolve(result);
      return;
    }
    const batch: CommitBatch = { changes: group.changes, history: group.history, idempotency: group.records, owners: group.owners, lastSequence: this.assigned };
    try {
      await this.storage.commit(batch, this.options);
    } catch (error) {
      // Nothing of the group was written; its sequences are simply never used.
      const failure = error instanceof ClientIdAlreadyBound
        ? new SyncFailure("unavailable", ErrorReason.UNAVAILABLE, `${error.message}; retry`)
        : error;
      for (const { job } of done) job.reject(failure);
      return;
    }
    this.visible = this.assigned;
    for (const { job, result } of done) job.resolve(result);
    for (const listener of this.listeners) listener(group.changes, this.visible);
  }
}
