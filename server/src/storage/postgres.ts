// Storage on PostgreSQL, for deployments that want the data in a database
// server rather than embedded next to the process. Same guarantees as the
// LevelDB storage: every commit is ONE transaction (documents, the change
// index, kept history, idempotency records and the sequence counter together),
// reads see a commit entirely or not at all.
//
// Single writer: the core assigns sequences in memory, so exactly one server
// process may use a schema at a time. open() takes a session advisory lock on a
// dedicated connection (postgres-lock.ts) and fails with a clear error while
// another server holds it; every commit and purge also checks, inside its
// transaction, that this process still holds the lock through the very session
// it held when the transaction began, so a server can never write behind a
// successor's back.
//
// Surviving the database: a killed backend or a restarted PostgreSQL costs
// the lock connection. The storage then reports "unavailable" (every write
// fails with a StorageUnavailableError, which the core answers as retryable
// `unavailable`), reconnects with backoff, takes the lock again (or keeps
// reporting who holds it, if another server took it meanwhile) and reports
// "available" with the metadata re-read, so the core resumes from the
// persisted last sequence and sequences never go backwards. Reads keep going
// through the pool whenever the database answers. Every driver error that
// means "the database is unreachable right now" becomes a
// StorageUnavailableError (postgres-errors.ts); nothing else is disguised.
//
// Durability: PostgreSQL acknowledges a COMMIT once its WAL is flushed (with
// the default synchronous_commit = on), so with default settings both
// durability modes survive power loss. A database tuned with
// synchronous_commit = off would weaken "fsync" mode, so a synced commit sets
// it back on for its own transaction.
import pg from "pg";
import { backoffDelay } from "../../../common/src/backoff.js";
import { decodeEvent, decodeRecord, encodeEvent, encodeRecord } from "./codec.js";
import { StorageUnavailableError } from "./errors.js";
import { classify } from "./postgres-errors.js";
import { HOLDS_LOCK, holdsLockParams, LockTakenError, releaseWriterLock, takeWriterLock, type HeldLock } from "./postgres-lock.js";
import { CLIENT_OWNERS_KEY, parsePurgedThrough, prepareSchema, SCHEMA_NAME } from "./postgres-schema.js";
import {
  ClientIdAlreadyBound,
  type CommitBatch,
  type DocumentKey,
  type IdempotencyRecord,
  type PurgeResult,
  type Storage,
  type StorageEvent,
  type StorageMeta,
  type StoredChange,
} from "./types.js";

export interface PostgresStorageOptions {
  /** A libpq connection URL: postgres://user:password@host:port/database */
  readonly connectionString: string;
  /** Schema holding the tables, created if missing (default "pocket"). One server per schema. */
  readonly schema?: string;
  /** Connections for reads and commits (default 10); one more holds the writer lock. */
  readonly poolSize?: number;
  /** Longest wait for a new connection, ms (default 5000). */
  readonly connectTimeoutMs?: number;
  /** Longest statement, ms, enforced by PostgreSQL (default 30000). */
  readonly statementTimeoutMs?: number;
  /** Backoff between attempts to regain the lock: first and longest wait, ms (default 100 and 3000). */
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

const int64 = (value: bigint) => BigInt.asIntN(64, value).toString();
const bytes = (event: StoredChange["event"]) => {
  const encoded = encodeEvent(event);
  return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
};

interface ChangeRow {
  event: Buffer;
  committed_at_ms: number;
}
const toStored = (row: ChangeRow): StoredChange => ({ event: decodeEvent(row.event), committedAtMs: row.committed_at_ms });

/** The last entry per key wins, as in a LevelDB batch. */
function lastByKey<T>(items: readonly T[], key: (item: T) => string): T[] {
  const map = new Map<string, T>();
  for (const item of items) {
    const k = key(item);
    map.delete(k); // keep the order of last writes
    map.set(k, item);
  }
  return [...map.values()];
}

export class PostgresStorage implements Storage {
  private readonly schema: string;
  private readonly s: string; // the quoted schema, prefix of every table
  private pool: pg.Pool | undefined;
  private lock: HeldLock | undefined;
  /** Why writes cannot succeed now; undefined while the lock is held. */
  private unavailable: string | undefined = "not open";
  /** Bumped at every loss of the lock: a transaction begun before cannot commit after. */
  private generation = 0;
  private readonly listeners = new Set<(event: StorageEvent) => void>();
  private closed = false;
  private wakeRecovery: (() => void) | undefined;

  constructor(private readonly options: PostgresStorageOptions) {
    this.schema = options.schema ?? "pocket";
    if (!SCHEMA_NAME.test(this.schema)) {
      throw new Error(`postgres schema must be a plain identifier (letters, digits, _; at most 63), got "${this.schema}"`);
    }
    this.s = `"${this.schema}"`;
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
      const meta = await this.takeLock();
      this.pool = new pg.Pool({
        ...this.connection(`pocket-sync ${this.schema}`),
        max: this.options.poolSize ?? POSTGRES_DEFAULTS.poolSize,
      });
      // An idle pooled connection that fails is dropped and replaced; the
      // next query reports a lasting problem.
      this.pool.on("error", () => {});
      return meta;
    } catch (error) {
      throw classify(error);
    }
  }

  /** Takes the writer lock on a new session and reads the metadata; the storage is writable after. */
  private async takeLock(): Promise<StorageMeta> {
    const generation = this.generation;
    const held = await takeWriterLock(this.connection(`pocket-sync ${this.schema} writer lock`), this.schema, (cause) => {
      if (this.lock === held) this.loseLock(cause.message);
    });
    try {
      const meta = await prepareSchema(held.client, this.schema, this.s);
      if (this.closed || generation !== this.generation) throw new StorageUnavailableError("the storage was closed meanwhile");
      this.lock = held;
      this.unavailable = undefined;
      return meta;
    } catch (error) {
      await releaseWriterLock(held.client, this.schema, { unlock: true });
      throw error;
    }
  }

  private connection(applicationName: string): pg.ClientConfig {
    // TCP keepalive notices a dead network path (and so a lost lock) even
    // when idle; an unreachable server fails the call instead of hanging, and
    // no statement (not even one waiting for a row lock) runs forever. The
    // lock itself belongs to the session, so no timeout ends it.
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

  /** The lock is gone: refuse writes, tell the core, and work to regain it. */
  private loseLock(why: string): void {
    const lock = this.lock;
    if (!lock || this.closed) return;
    this.lock = undefined;
    this.generation++;
    this.unavailable = `lost the writer lock on PostgreSQL schema "${this.schema}" (${why})`;
    void releaseWriterLock(lock.client, this.schema, { unlock: true });
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
        const meta = await this.takeLock();
        this.emit({ kind: "available", meta });
        return;
      } catch (error) {
        if (this.closed) return;
        // Another server took the lock meanwhile: never write behind its
        // back; keep saying so (and who it is) until it lets go.
        const classified = classify(error);
        const why = error instanceof LockTakenError
          ? error.message
          : `cannot regain the writer lock: ${classified instanceof Error ? classified.message : String(classified)}`;
        this.unavailable = why;
        delay = backoffDelay(attempt + 1, first, max);
        this.emit({ kind: "unavailable", reason: why, retryInMs: Math.round(delay) });
      }
    }
  }

  private ready(): pg.Pool {
    if (!this.pool) throw new Error("postgres storage is not open");
    return this.pool;
  }

  /** Runs a read on the pool, reporting an unreachable database as such. */
  private async read<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    const pool = this.ready();
    try {
      return await pool.query<R>(text, values);
    } catch (error) {
      throw classify(error);
    }
  }

  /** Runs `work` in one transaction that commits only while this process holds the writer lock. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    // Taken before any wait: a transaction begun under one holding of the
    // lock can never commit under the next (its reads may be stale by then).
    const generation = this.generation;
    const lock = this.lock;
    const pool = this.ready();
    if (this.unavailable !== undefined || !lock) throw new StorageUnavailableError(`cannot write: ${this.unavailable ?? "no writer lock"}`);
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw classify(error);
    }
    // A checked-out connection that dies between two statements emits its
    // error instead of failing a query: unheard, it would crash the process.
    let broken = false;
    const onError = () => {
      broken = true;
    };
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await work(client);
      const { rowCount } = await client.query(HOLDS_LOCK, holdsLockParams(this.schema, lock.pid));
      if (rowCount !== 1 || generation !== this.generation) {
        if (this.lock === lock) this.loseLock("it is no longer held");
        throw new StorageUnavailableError(`cannot write: ${this.unavailable ?? "lost the writer lock"}`);
      }
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw classify(error);
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  }

  async getDocuments(keys: readonly DocumentKey[]): Promise<Array<StoredChange | undefined>> {
    if (keys.length === 0) return [];
    const { rows } = await this.read<ChangeRow & { i: string }>(
      `SELECT k.i, c.event, c.committed_at_ms
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(collection, document_id, i)
         JOIN ${this.s}.documents d ON d.collection = k.collection AND d.document_id = k.document_id
         JOIN ${this.s}.changes c ON c.collection = d.collection AND c.server_sequence = d.server_sequence`,
      [keys.map((k) => k.collection), keys.map((k) => k.documentId)],
    );
    const result: Array<StoredChange | undefined> = keys.map(() => undefined);
    for (const row of rows) result[Number(row.i) - 1] = toStored(row);
    return result;
  }

  async getHistoricState(collection: string, documentId: string, revision: string): Promise<StoredChange | undefined> {
    const { rows } = await this.read<ChangeRow>(
      `SELECT event, committed_at_ms FROM ${this.s}.history WHERE collection = $1 AND document_id = $2 AND revision = $3`,
      [collection, documentId, revision],
    );
    return rows[0] && toStored(rows[0]);
  }

  async getIdempotencyRecords(clientId: string, clientSequences: readonly bigint[]): Promise<Array<IdempotencyRecord | undefined>> {
    if (clientSequences.length === 0) return [];
    const { rows } = await this.read<{ client_sequence: string; record: string }>(
      `SELECT client_sequence, record FROM ${this.s}.idempotency WHERE client_id = $1 AND client_sequence = ANY($2::bigint[])`,
      [clientId, clientSequences.map(int64)],
    );
    const found = new Map(rows.map((r) => [r.client_sequence, r.record]));
    return clientSequences.map((s) => {
      const record = found.get(int64(s));
      return record === undefined ? undefined : decodeRecord(record);
    });
  }

  async getClientOwner(clientId: string): Promise<string | undefined> {
    const { rows } = await this.ready().query<{ principal: string }>(`SELECT principal FROM ${this.s}.client_owners WHERE client_id = $1`, [clientId]);
    return rows[0]?.principal;
  }

  async commit(batch: CommitBatch, options: { sync: boolean }): Promise<void> {
    // A document written twice in one batch ends at its last change; the
    // earlier one is replaced before anyone can see it, as in LevelDB.
    const changes = lastByKey(batch.changes, (c) => `${c.event.collection}\u0000${c.event.documentId}`);
    const history = lastByKey(batch.history ?? [], (h) => `${h.event.collection}\u0000${h.event.documentId}\u0000${h.event.revision}`);
    const records = lastByKey(batch.idempotency, (r) => `${r.clientId}\u0000${r.clientSequence}`);
    await this.transaction(async (client) => {
      if (options.sync) await client.query("SET LOCAL synchronous_commit = on");
      if (changes.length) {
        // One statement: drop each document's previous index entry (found
        // through `documents` as it was before the statement), point
        // `documents` at the new sequence, insert the new entries.
        await client.query(
          `WITH k AS (
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[], $5::float8[], $6::boolean[])
               AS k(collection, server_sequence, document_id, event, committed_at_ms, deleted)
           ), replaced AS (
             DELETE FROM ${this.s}.changes c USING ${this.s}.documents d, k
              WHERE d.collection = k.collection AND d.document_id = k.document_id
                AND c.collection = d.collection AND c.server_sequence = d.server_sequence
           ), moved AS (
             INSERT INTO ${this.s}.documents (collection, document_id, server_sequence)
             SELECT collection, document_id, server_sequence FROM k
             ON CONFLICT (collection, document_id) DO UPDATE SET server_sequence = EXCLUDED.server_sequence
           )
           INSERT INTO ${this.s}.changes (collection, server_sequence, document_id, event, committed_at_ms, deleted)
           SELECT collection, server_sequence, document_id, event, committed_at_ms, deleted FROM k`,
          [
            changes.map((c) => c.event.collection),
            changes.map((c) => c.event.serverSequence.toString()),
            changes.map((c) => c.event.documentId),
            changes.map((c) => bytes(c.event)),
            changes.map((c) => c.committedAtMs),
            changes.map((c) => c.event.deleted),
          ],
        );
      }
      if (history.length) {
        await client.query(
          `INSERT INTO ${this.s}.history (collection, document_id, revision, event, committed_at_ms)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::float8[])
           ON CONFLICT (collection, document_id, revision) DO UPDATE SET event = EXCLUDED.event, committed_at_ms = EXCLUDED.committed_at_ms`,
          [
            history.map((h) => h.event.collection),
            history.map((h) => h.event.documentId),
            history.map((h) => h.event.revision),
            history.map((h) => bytes(h.event)),
            history.map((h) => h.committedAtMs),
          ],
        );
      }
      if (records.length) {
        await client.query(
          `INSERT INTO ${this.s}.idempotency (client_id, client_sequence, record, committed_at_ms)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::float8[])
           ON CONFLICT (client_id, client_sequence) DO UPDATE SET record = EXCLUDED.record, committed_at_ms = EXCLUDED.committed_at_ms`,
          [records.map((r) => r.clientId), records.map((r) => int64(r.clientSequence)), records.map(encodeRecord), records.map((r) => r.committedAtMs)],
        );
      }
      const owners = batch.owners ?? [];
      if (owners.length) {
        try {
          await client.query(`INSERT INTO ${this.s}.client_owners (client_id, principal) SELECT * FROM unnest($1::text[], $2::text[])`, [
            owners.map((o) => o.clientId),
            owners.map((o) => o.principal),
          ]);
        } catch (error) {
          const { code, constraint, detail } = error as { code?: string; constraint?: string; detail?: string };
          if (code === "23505" && constraint === CLIENT_OWNERS_KEY) {
            const taken = owners.find((o) => detail?.includes(`(${o.clientId})`)) ?? owners[0]!;
            throw new ClientIdAlreadyBound(taken.clientId);
          }
          throw error;
        }
      }
      await client.query(`UPDATE ${this.s}.meta SET last_sequence = GREATEST(last_sequence, $1::bigint) WHERE id = 1`, [batch.lastSequence.toString()]);
    });
  }

  async readChanges(collection: string, afterSequence: bigint, upToSequence: bigint, limit: number): Promise<StoredChange[]> {
    if (upToSequence <= afterSequence || limit <= 0) return [];
    const { rows } = await this.read<ChangeRow>(
      `SELECT event, committed_at_ms FROM ${this.s}.changes
        WHERE collection = $1 AND server_sequence > $2::bigint AND server_sequence <= $3::bigint
        ORDER BY server_sequence LIMIT $4`,
      [collection, afterSequence.toString(), upToSequence.toString(), limit],
    );
    return rows.map(toStored);
  }

  async purge(cutoffMs: number, recordsCutoffMs = cutoffMs): Promise<PurgeResult> {
    return this.transaction(async (client) => {
      const meta = await client.query<{ purged_through: Record<string, string> }>(`SELECT purged_through FROM ${this.s}.meta WHERE id = 1 FOR UPDATE`);
      const purgedThrough = parsePurgedThrough(meta.rows[0]!.purged_through);
      // A tombstone is its document's only index entry: both go.
      const tombstones = await client.query<{ collection: string; through: string; purged: number }>(
        `WITH gone AS (
           DELETE FROM ${this.s}.changes WHERE deleted AND committed_at_ms < $1
           RETURNING collection, document_id, server_sequence
         ), unindexed AS (
           DELETE FROM ${this.s}.documents d USING gone g
            WHERE d.collection = g.collection AND d.document_id = g.document_id AND d.server_sequence = g.server_sequence
         )
         SELECT collection, max(server_sequence)::text AS through, count(*)::int AS purged FROM gone GROUP BY collection`,
        [cutoffMs],
      );
      await client.query(`DELETE FROM ${this.s}.history WHERE committed_at_ms < $1`, [recordsCutoffMs]);
      const records = await client.query(`DELETE FROM ${this.s}.idempotency WHERE committed_at_ms < $1`, [recordsCutoffMs]);
      let tombstonesPurged = 0;
      for (const row of tombstones.rows) {
        tombstonesPurged += row.purged;
        const through = BigInt(row.through);
        if (through > (purgedThrough[row.collection] ?? 0n)) purgedThrough[row.collection] = through;
      }
      if (tombstones.rows.length) {
        await client.query(`UPDATE ${this.s}.meta SET purged_through = $1::jsonb WHERE id = 1`, [
          JSON.stringify(Object.fromEntries(Object.entries(purgedThrough).map(([k, v]) => [k, v.toString()]))),
        ]);
      }
      return { tombstonesPurged, idempotencyRecordsPurged: records.rowCount ?? 0, purgedThrough };
    });
  }

  async close(): Promise<void> {
    const { pool, lock } = this;
    this.closed = true;
    this.wakeRecovery?.();
    this.pool = undefined;
    this.lock = undefined;
    this.unavailable = "closed";
    this.generation++;
    await pool?.end();
    if (lock) await releaseWriterLock(lock.client, this.schema, { unlock: true });
  }
}
