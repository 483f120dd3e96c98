// Storage on PostgreSQL, the way to run several servers on one data set. Any
// number of server processes share a schema; every commit group is ONE
// transaction (documents, the change index, kept history, idempotency
// records, client-id bindings and the sequence counter together), and reads
// see a commit entirely or not at all.
//
// Sequencing in the database (PROTOCOL §4.2): a commit group first takes the
// counter row (SELECT ... FROM meta FOR UPDATE), then makes every read its
// jobs need (documents, idempotency records, client-id owners) inside that
// transaction, gives sequences from the value it holds, writes, moves the
// counter and commits. Groups from all servers therefore run one after
// another: conflict detection and idempotency see every earlier commit, and
// commits become visible in sequence order, so "everything up to the
// counter's committed value is readable" holds for every reader. The keys of
// idempotency and client_owners back the reads as constraints.
//
// Cross-server fan-out: each commit NOTIFYs the schema's channel with its
// last sequence (postgres-locks.ts, postgres-listener.ts). Every server
// LISTENs on a dedicated session and reads the changes it has not published
// from the table, in sequence order (readCommitted).
//
// Surviving the database: the LISTEN session is also the server's link to
// its database. Its loss (a killed backend, a restarted PostgreSQL) makes
// the storage report "unavailable" (every write then fails with a
// StorageUnavailableError, which the core answers as retryable
// `unavailable`); it reconnects with backoff and reports "available" with
// the metadata re-read, and the server reads whatever was committed meanwhile
// from the table. A pooled connection that fails probes the LISTEN session,
// so a dead database is noticed even while no notification is due. Every
// driver error that means "the database is unreachable right now" becomes a
// StorageUnavailableError (postgres-errors.ts); nothing else is disguised.
//
// Durability: PostgreSQL acknowledges a COMMIT once its WAL is flushed (with
// the default synchronous_commit = on), so with default settings both
// durability modes survive power loss. A database tuned with
// synchronous_commit = off would weaken "fsync" mode, so a synced commit sets
// it back on for its own transaction.
import pg from "pg";
import { backoffDelay } from "../../../common/src/backoff.js";
import { checkBatchSequences, writesAnything } from "./batch-rules.js";
import { StorageUnavailableError } from "./errors.js";
import { classify } from "./postgres-errors.js";
import { CommitListener, notificationPayload } from "./postgres-listener.js";
import { channelOf, purgeLock } from "./postgres-locks.js";
import { PostgresIndexes } from "./postgres-index.js";
import { listCollectionsSql, PostgresReads, type Query } from "./postgres-reads.js";
import { INDEX_SET_SETTING, parsePurgedThrough, prepareSchema, SCHEMA_NAME } from "./postgres-schema.js";
import { purgeOlderThan, purgeSuperseded, purgeTombstones, PURGE_CHUNK, writeBatch } from "./postgres-writes.js";
import { renamedReadRule } from "./read-rule.js";
import type {
  BatchRead,
  BatchReadResult,
  BuiltIndex,
  IndexChanges,
  IndexPage,
  IndexQuery,
  IndexSpec,
  ChangesPage,
  CommittedGroup,
  CommittedPosition,
  DocumentKey,
  GroupReader,
  GroupWork,
  IdempotencyRecord,
  PurgeResult,
  Storage,
  StorageEvent,
  StateQuery,
  StatesAt,
  StorageMeta,
  StoredChange,
} from "./types.js";

export interface PostgresStorageOptions {
  /** A libpq connection URL: postgres://user:password@host:port/database */
  readonly connectionString: string;
  /** Schema holding the tables, created if missing (default "pocket"). Any number of servers may share it. */
  readonly schema?: string;
  /** Connections for reads and commits (default 10); one more LISTENs. */
  readonly poolSize?: number;
  /** Longest wait for a new connection, ms (default 5000). */
  readonly connectTimeoutMs?: number;
  /** Longest statement, ms, enforced by PostgreSQL (default 30000). Waiting for the counter row counts. */
  readonly statementTimeoutMs?: number;
  /** Backoff between attempts to reconnect: first and longest wait, ms (default 100 and 3000). */
  readonly reconnectDelayMs?: { readonly first: number; readonly max: number };
}

export const POSTGRES_DEFAULTS = {
  poolSize: 10,
  connectTimeoutMs: 5_000,
  statementTimeoutMs: 30_000,
  /** A transaction left open this long (a stuck client) is ended by PostgreSQL. */
  idleInTransactionTimeoutMs: 60_000,
  /** TCP keepalive from this much idle time, so a dead network path is noticed. */
  keepAliveInitialDelayMs: 10_000,
  reconnectDelayMs: { first: 100, max: 3_000 },
} as const;

/** A pooled connection failing no more often than this probes the LISTEN session. */
const PROBE_INTERVAL_MS = 1_000;

export class PostgresStorage implements Storage {
  private readonly schema: string;
  private readonly s: string; // the quoted schema, prefix of every table
  private readonly channel: string;
  private pool: pg.Pool | undefined;
  private reads: PostgresReads | undefined;
  private listener: CommitListener | undefined;
  private epoch: string | undefined;
  /** Why writes cannot succeed now; undefined while the LISTEN session is up. */
  private unavailable: string | undefined = "not open";
  private readonly listeners = new Set<(event: StorageEvent) => void>();
  private closed = false;
  private wakeRecovery: (() => void) | undefined;
  private lastProbeAt = 0;
  private readonly fieldIndexes: PostgresIndexes;

  constructor(private readonly options: PostgresStorageOptions) {
    this.schema = options.schema ?? "pocket";
    if (!SCHEMA_NAME.test(this.schema)) {
      throw new Error(`postgres schema must be a plain identifier (letters, digits, _; at most 63), got "${this.schema}"`);
    }
    this.s = `"${this.schema}"`;
    this.channel = channelOf(this.schema);
    this.fieldIndexes = new PostgresIndexes({ schema: this.schema, s: this.s, query: this.poolQuery, transaction: (work) => this.transaction(work) });
  }

  watch(listener: (event: StorageEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: StorageEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  async open(): Promise<StorageMeta> {
    if (this.pool) throw new Error("postgres storage is already open");
    this.closed = false;
    try {
      const meta = await this.connectListener();
      this.pool = new pg.Pool({
        ...this.connection(`pocket-sync ${this.schema}`),
        max: this.options.poolSize ?? POSTGRES_DEFAULTS.poolSize,
      });
      // An idle pooled connection that fails is dropped and replaced; the
      // next query reports a lasting problem.
      this.pool.on("error", () => {});
      this.reads = new PostgresReads(this.poolQuery, this.s);
      await this.fieldIndexes.load();
      return meta;
    } catch (error) {
      throw classify(error);
    }
  }

  /** Connects the LISTEN session, then creates or migrates the tables and reads the metadata on it. */
  private async connectListener(): Promise<StorageMeta> {
    const listener = await CommitListener.connect(this.connection(`pocket-sync ${this.schema} listener`), this.channel, {
      committed: (lastSequence) => this.emit({ kind: "committed", lastSequence }),
      lost: (cause) => {
        if (this.listener === listener) this.loseListener(cause.message);
      },
    });
    try {
      const meta = await prepareSchema(listener.client, this.schema, this.s);
      if (this.closed) throw new StorageUnavailableError("the storage was closed meanwhile");
      listener.follow(meta.epoch);
      this.epoch = meta.epoch;
      this.listener = listener;
      this.unavailable = undefined;
      return meta;
    } catch (error) {
      await listener.close();
      throw error;
    }
  }

  private connection(applicationName: string): pg.ClientConfig {
    // TCP keepalive notices a dead network path even when idle; an
    // unreachable server fails the call instead of hanging, and no statement
    // (not even one waiting for the counter row) runs forever.
    return {
      connectionString: this.options.connectionString,
      application_name: applicationName,
      keepAlive: true,
      keepAliveInitialDelayMillis: POSTGRES_DEFAULTS.keepAliveInitialDelayMs,
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? POSTGRES_DEFAULTS.connectTimeoutMs,
      statement_timeout: this.options.statementTimeoutMs ?? POSTGRES_DEFAULTS.statementTimeoutMs,
      idle_in_transaction_session_timeout: POSTGRES_DEFAULTS.idleInTransactionTimeoutMs,
    };
  }

  /** The database is out of reach: refuse writes, tell the core, and work to reconnect. */
  private loseListener(why: string): void {
    if (!this.listener || this.closed) return;
    this.listener = undefined;
    this.unavailable = `lost the connection to PostgreSQL schema "${this.schema}" (${why})`;
    this.emit({ kind: "unavailable", reason: this.unavailable });
    void this.recover();
  }

  private async recover(): Promise<void> {
    const { first, max } = this.options.reconnectDelayMs ?? POSTGRES_DEFAULTS.reconnectDelayMs;
    let delay = backoffDelay(1, first, max);
    for (let attempt = 1; !this.closed; attempt++) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeRecovery = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeRecovery = undefined;
      if (this.closed) return;
      try {
        const meta = await this.connectListener();
        this.emit({ kind: "available", meta });
        return;
      } catch (error) {
        if (this.closed) return;
        const classified = classify(error);
        this.unavailable = `cannot reconnect to PostgreSQL: ${classified instanceof Error ? classified.message : String(classified)}`;
        delay = backoffDelay(attempt + 1, first, max);
        this.emit({ kind: "unavailable", reason: this.unavailable, retryInMs: Math.round(delay) });
      }
    }
  }

  private ready(): pg.Pool {
    if (!this.pool) throw new Error("postgres storage is not open");
    return this.pool;
  }

  /** A failure that says the database may be gone: make sure the LISTEN session notices. */
  private failed(error: unknown): unknown {
    const classified = classify(error);
    if (classified instanceof StorageUnavailableError && Date.now() - this.lastProbeAt >= PROBE_INTERVAL_MS) {
      this.lastProbeAt = Date.now();
      void this.listener?.probe();
    }
    return classified;
  }

  /** Runs a read on the pool, reporting an unreachable database as such. */
  private readonly poolQuery: Query = async (text, values) => {
    try {
      return await this.ready().query(text, values);
    } catch (error) {
      throw this.failed(error);
    }
  };

  private reader(): PostgresReads {
    if (!this.reads) throw new Error("postgres storage is not open");
    return this.reads;
  }

  /**
   * Runs `work` in one transaction on a pooled connection. `opening` is sent
   * with BEGIN in one round trip; its last result goes to `work`.
   */
  private async transaction<T>(work: (client: pg.PoolClient, opened: pg.QueryResult | undefined) => Promise<T>, opening?: string): Promise<T> {
    const pool = this.ready();
    if (this.unavailable !== undefined) throw new StorageUnavailableError(`cannot write: ${this.unavailable}`);
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw this.failed(error);
    }
    // A checked-out connection that dies between two statements emits its
    // error instead of failing a query: unheard, it would crash the process.
    let broken = false;
    const onError = () => {
      broken = true;
    };
    client.on("error", onError);
    try {
      // Simple-protocol text (no parameters), so several statements go at once.
      const begun = (await client.query(opening ? `BEGIN; ${opening}` : "BEGIN")) as pg.QueryResult | pg.QueryResult[];
      const result = await work(client, opening ? [begun].flat().at(-1) : undefined);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw this.failed(error);
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  }

  getDocuments(keys: readonly DocumentKey[]): Promise<Array<StoredChange | undefined>> {
    return this.reader().getDocuments(keys);
  }

  getHistoricState(collection: string, documentId: string, revision: string): Promise<StoredChange | undefined> {
    return this.reader().getHistoricState(collection, documentId, revision);
  }

  getIdempotencyRecords(clientId: string, clientSequences: readonly bigint[]): Promise<Array<IdempotencyRecord | undefined>> {
    return this.reader().getIdempotencyRecords(clientId, clientSequences);
  }

  getClientOwner(clientId: string): Promise<string | undefined> {
    return this.reader().getClientOwner(clientId);
  }

  readBatch(read: BatchRead): Promise<BatchReadResult> {
    return this.reader().readBatch(read);
  }

  readPosition(): Promise<CommittedPosition> {
    return this.reader().readPosition();
  }

  readPage(from: ReadonlyArray<readonly [string, bigint]>, limit: number, upTo?: bigint): Promise<ChangesPage> {
    return this.reader().readPage(from, limit, upTo);
  }

  listCollections(): Promise<string[]> {
    return this.reader().listCollections();
  }

  getStatesAt(queries: readonly StateQuery[]): Promise<StatesAt> {
    return this.reader().getStatesAt(queries);
  }

  async readIndex(query: IndexQuery): Promise<IndexPage> {
    const { indexSet, ...page } = await this.reader().readIndex(query);
    // Entries of a set another server changed may be gone.
    this.fieldIndexes.check(indexSet);
    return page;
  }

  setIndexes(specs: readonly IndexSpec[]): Promise<IndexChanges> {
    this.ready();
    return this.fieldIndexes.setIndexes(specs);
  }

  indexes(): readonly BuiltIndex[] {
    return this.fieldIndexes.inForce();
  }

  readCommitted(after: bigint, upTo: bigint, limit: number): Promise<{ changes: StoredChange[]; lastSequence: bigint }> {
    return this.reader().readCommitted(after, upTo, limit);
  }

  commitGroup<T>(work: GroupWork<T>, options: { sync: boolean }): Promise<CommittedGroup<T>> {
    const epoch = this.epoch!;
    // The counter row, taken with BEGIN: every other group, on any server,
    // waits here until this one commits, and reads what it wrote once it
    // goes on.
    // With it, the index set in force: a group of a server on another set
    // would write the wrong entries (postgres-index.ts).
    // An escape string: its meaning does not depend on standard_conforming_strings.
    const named = this.fieldIndexes.indexSet;
    const indexSet = `E'${named.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
    const opening =
      `${options.sync ? "SET LOCAL synchronous_commit = on; " : ""}SELECT set_config('${INDEX_SET_SETTING}', ${indexSet}, true); ` +
      `SELECT last_sequence, index_set FROM ${this.s}.meta WHERE id = 1 FOR UPDATE`;
    return this.transaction(async (client, opened) => {
      const counter = opened!.rows[0] as { last_sequence: string; index_set: string };
      if (counter.index_set !== named) {
        // Unless this server's own setIndexes switched the set while the
        // group waited for the row, the set is another server's.
        this.fieldIndexes.check(counter.index_set);
        await client.query("SELECT set_config($1, $2, true)", [INDEX_SET_SETTING, counter.index_set]);
      }
      const after = BigInt(counter.last_sequence);
      const reader = new GroupReads(client, this.s);
      const { batch, result } = await work(reader, after);
      // A failed read aborted the transaction, whatever the work made of it.
      reader.throwIfFailed();
      if (!writesAnything(batch)) return { result, after, lastSequence: after };
      checkBatchSequences(batch, after);
      // One notification per group, positions only.
      const moved = batch.lastSequence > after ? { lastSequence: batch.lastSequence, channel: this.channel, payload: notificationPayload(epoch, batch.lastSequence) } : undefined;
      await writeBatch(client, this.s, batch, moved);
      return { result, after, lastSequence: batch.lastSequence };
    }, opening);
  }

  setReadRule(name: string): Promise<boolean> {
    return this.transaction(async (client) => {
      // The counter row: no commit group runs meanwhile, on any server.
      const { rows } = await client.query<{ last_sequence: string; purged_through: Record<string, string>; read_rule: string }>(
        `SELECT last_sequence, purged_through, read_rule FROM ${this.s}.meta WHERE id = 1 FOR UPDATE`,
      );
      const meta = rows[0]!;
      if (meta.read_rule === name) return false;
      const collections = (await client.query<{ collection: string }>(listCollectionsSql(this.s))).rows.map((r) => r.collection);
      const renamed = renamedReadRule(collections, parsePurgedThrough(meta.purged_through), BigInt(meta.last_sequence));
      // No notification: no change has the sequence taken, and servers
      // learn of it with the next commit (sequences need not be contiguous).
      await client.query(`UPDATE ${this.s}.meta SET last_sequence = $1, purged_through = $2::jsonb, read_rule = $3 WHERE id = 1`, [
        renamed.lastSequence.toString(),
        JSON.stringify(Object.fromEntries(Object.entries(renamed.purgedThrough).map(([c, v]) => [c, v.toString()]))),
        name,
      ]);
      return true;
    });
  }

  async purge(cutoffMs: number, recordsCutoffMs = cutoffMs): Promise<PurgeResult> {
    const lock = purgeLock(this.schema);
    // Chunks, each in its own transaction holding the counter row, so
    // commits never wait for a whole purge. One server purges at a time:
    // another one finding the lock taken skips its turn.
    const chunk = <T>(work: (client: pg.PoolClient) => Promise<T>) =>
      this.transaction(async (client) => {
        const { rows } = await client.query<{ mine: boolean }>("SELECT pg_try_advisory_xact_lock($1::int4, $2::int4) AS mine", lock);
        return rows[0]!.mine ? { done: await work(client) } : undefined;
      });
    let tombstonesPurged = 0;
    let purgedThrough: Readonly<Record<string, bigint>> | undefined;
    // Tombstones, then superseded states (PROTOCOL §13.6): both raise the watermarks.
    for (const purgeChunk of [purgeTombstones, purgeSuperseded]) {
      for (;;) {
        const step = await chunk(async (client) => {
          await client.query(`SELECT 1 FROM ${this.s}.meta WHERE id = 1 FOR UPDATE`);
          return purgeChunk(client, this.s, cutoffMs);
        });
        if (!step) return { tombstonesPurged, idempotencyRecordsPurged: 0, purgedThrough: purgedThrough ?? (await this.readPosition()).purgedThrough };
        if (purgeChunk === purgeTombstones) tombstonesPurged += step.done.purged;
        purgedThrough = step.done.purgedThrough;
        if (step.done.purged < PURGE_CHUNK) break;
      }
    }
    let idempotencyRecordsPurged = 0;
    for (const table of ["history", "idempotency"] as const) {
      for (;;) {
        const step = await chunk((client) => purgeOlderThan(client, this.s, table, recordsCutoffMs, PURGE_CHUNK * 10));
        if (!step) break;
        if (table === "idempotency") idempotencyRecordsPurged += step.done;
        if (step.done < PURGE_CHUNK * 10) break;
      }
    }
    // Index entries no reader needs once the watermarks rose (types.ts, readIndex).
    await this.fieldIndexes.purgeObsolete(purgedThrough!, chunk);
    return { tombstonesPurged, idempotencyRecordsPurged, purgedThrough: purgedThrough! }; // set by every chunk
  }

  async close(): Promise<void> {
    const { pool, listener } = this;
    this.closed = true;
    this.wakeRecovery?.();
    this.pool = undefined;
    this.reads = undefined;
    this.listener = undefined;
    this.unavailable = "closed";
    await pool?.end();
    await listener?.close();
  }
}

/**
 * A commit group's reads, on its transaction. The first failure aborts the
 * transaction: every later read fails the same way at once (not with
 * PostgreSQL's "current transaction is aborted"), and so does the group.
 */
class GroupReads implements GroupReader {
  private readonly reads: PostgresReads;
  private failure: { error: unknown } | undefined;

  constructor(client: pg.ClientBase, s: string) {
    this.reads = new PostgresReads(async (text, values) => {
      if (this.failure) throw this.failure.error;
      try {
        return await client.query(text, values);
      } catch (error) {
        this.failure = { error: classify(error) };
        throw this.failure.error;
      }
    }, s);
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  getDocuments(keys: readonly DocumentKey[]) {
    return this.reads.getDocuments(keys);
  }
  getHistoricState(collection: string, documentId: string, revision: string) {
    return this.reads.getHistoricState(collection, documentId, revision);
  }
  getIdempotencyRecords(clientId: string, clientSequences: readonly bigint[]) {
    return this.reads.getIdempotencyRecords(clientId, clientSequences);
  }
  getClientOwner(clientId: string) {
    return this.reads.getClientOwner(clientId);
  }
  readBatch(read: BatchRead) {
    return this.reads.readBatch(read);
  }
}
