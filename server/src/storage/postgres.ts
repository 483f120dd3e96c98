// Storage on PostgreSQL, for deployments that want the data in a database
// server rather than embedded next to the process. Same guarantees as the
// LevelDB storage: every commit is ONE transaction (documents, the change
// index, kept history, idempotency records, client-id bindings and the sequence
// counter together),
// reads see a commit entirely or not at all.
//
// Single writer: the core assigns sequences in memory, so exactly one server
// process may use a schema at a time. open() takes a session advisory lock on a
// dedicated connection and fails with a clear error while another server holds
// it; every commit and purge also checks, inside its transaction, that this
// process still holds the lock (so a server whose lock connection dropped can
// never write behind a successor's back; it fails its writes instead and must
// be restarted).
//
// Durability: PostgreSQL acknowledges a COMMIT once its WAL is flushed (with
// the default synchronous_commit = on), so with default settings both
// durability modes survive power loss. A database tuned with
// synchronous_commit = off would weaken "fsync" mode, so a synced commit sets
// it back on for its own transaction.
import { createHash, randomUUID } from "node:crypto";
import pg from "pg";
import { decodeEvent, decodeRecord, encodeEvent, encodeRecord } from "./codec.js";
import {
  ClientIdAlreadyBound,
  type CommitBatch,
  type DocumentKey,
  type IdempotencyRecord,
  type PurgeResult,
  type Storage,
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
}

/** Version of the table layout, kept in meta, for migrations to come. */
const FORMAT = 1;
/** First key of the advisory lock: "Pock". The second is derived from the schema. */
const LOCK_CLASS = 0x506f636b;

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

// Added after the first layout: created on open where missing, ignored by
// servers from before it. The primary key is the rule: a client id is bound
// once, and two commits (even from two servers) cannot both bind it.
const clientOwnersTable = (s: string) => `
CREATE TABLE IF NOT EXISTS ${s}.client_owners (
  client_id text COLLATE "C" PRIMARY KEY,
  principal text NOT NULL
);
`;
/** The primary key of client_owners, as PostgreSQL names it. */
const CLIENT_OWNERS_KEY = "client_owners_pkey";

// Collection names, document ids and client ids are compared byte for byte
// (COLLATE "C"): faster, and immune to the OS collation changes that corrupt
// text indexes across upgrades. Sequences are bigint; a client sequence is a
// uint64 on the wire, kept in its signed 64-bit two's complement (a lossless
// bijection; only equality is ever asked of it).
const tables = (s: string) => `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.meta (
  id smallint PRIMARY KEY CHECK (id = 1),
  format integer NOT NULL,
  epoch text NOT NULL,
  last_sequence bigint NOT NULL,
  purged_through jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS ${s}.changes (
  collection text COLLATE "C" NOT NULL,
  server_sequence bigint NOT NULL,
  document_id text COLLATE "C" NOT NULL,
  event bytea NOT NULL,
  committed_at_ms double precision NOT NULL,
  deleted boolean NOT NULL,
  PRIMARY KEY (collection, server_sequence)
);
CREATE INDEX IF NOT EXISTS changes_tombstones ON ${s}.changes (committed_at_ms) WHERE deleted;
CREATE TABLE IF NOT EXISTS ${s}.documents (
  collection text COLLATE "C" NOT NULL,
  document_id text COLLATE "C" NOT NULL,
  server_sequence bigint NOT NULL,
  PRIMARY KEY (collection, document_id)
);
CREATE TABLE IF NOT EXISTS ${s}.history (
  collection text COLLATE "C" NOT NULL,
  document_id text COLLATE "C" NOT NULL,
  revision text COLLATE "C" NOT NULL,
  event bytea NOT NULL,
  committed_at_ms double precision NOT NULL,
  PRIMARY KEY (collection, document_id, revision)
);
CREATE INDEX IF NOT EXISTS history_committed_at ON ${s}.history (committed_at_ms);
CREATE TABLE IF NOT EXISTS ${s}.idempotency (
  client_id text COLLATE "C" NOT NULL,
  client_sequence bigint NOT NULL,
  record text NOT NULL,
  committed_at_ms double precision NOT NULL,
  PRIMARY KEY (client_id, client_sequence)
);
CREATE INDEX IF NOT EXISTS idempotency_committed_at ON ${s}.idempotency (committed_at_ms);
${clientOwnersTable(s)}`;


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
  private readonly lockKey: number;
  private pool: pg.Pool | undefined;
  private lock: pg.Client | undefined;
  private lockPid = 0;
  private lockLost: Error | undefined;

  constructor(private readonly options: PostgresStorageOptions) {
    this.schema = options.schema ?? "pocket";
    if (!SCHEMA_NAME.test(this.schema)) {
      throw new Error(`postgres schema must be a plain identifier (letters, digits, _; at most 63), got "${this.schema}"`);
    }
    this.s = `"${this.schema}"`;
    this.lockKey = createHash("sha256").update(`pocket-sync:${this.schema}`).digest().readInt32BE(0) & 0x7fffffff;
  }

  async open(): Promise<StorageMeta> {
    if (this.pool) throw new Error("postgres storage is already open");
    const lock = new pg.Client({ ...this.connection(), application_name: "pocket-sync writer lock" });
    // An error on an idle connection is emitted, not thrown: without this
    // handler it would crash the process. Losing this connection loses the lock.
    lock.on("error", (error) => this.loseLock(error));
    lock.on("end", () => this.loseLock(new Error("the connection holding it ended")));
    this.lockLost = undefined;
    try {
      await lock.connect();
      const { rows } = await lock.query<{ locked: boolean; pid: number }>(
        "SELECT pg_try_advisory_lock($1::int4, $2::int4) AS locked, pg_backend_pid() AS pid",
        [LOCK_CLASS, this.lockKey],
      );
      if (!rows[0]?.locked) throw new Error(await this.describeHolder(lock));
      this.lockPid = rows[0].pid;
      await lock.query("BEGIN");
      // Only when missing: a role that may not create (its DBA provisioned
      // the schema) still opens an existing data set.
      const present = await lock.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [`${this.s}.meta`]);
      if (!present.rows[0]?.present) await lock.query(tables(this.s));
      const owners = await lock.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [`${this.s}.client_owners`]);
      if (!owners.rows[0]?.present) await lock.query(clientOwnersTable(this.s));
      await lock.query(
        `INSERT INTO ${this.s}.meta (id, format, epoch, last_sequence, purged_through) VALUES (1, $1, $2, 0, '{}') ON CONFLICT (id) DO NOTHING`,
        [FORMAT, randomUUID()],
      );
      const meta = await lock.query<{ format: number; epoch: string; last_sequence: string; purged_through: Record<string, string> }>(
        `SELECT format, epoch, last_sequence, purged_through FROM ${this.s}.meta WHERE id = 1`,
      );
      await lock.query("COMMIT");
      const row = meta.rows[0]!;
      if (row.format > FORMAT) {
        throw new Error(`schema "${this.schema}" holds data of a newer Pocket Sync (format ${row.format}; this one reads ${FORMAT})`);
      }
      this.lock = lock;
      this.pool = new pg.Pool({ ...this.connection(), max: this.options.poolSize ?? 10, application_name: "pocket-sync" });
      // An idle pooled connection that fails is dropped and replaced; the
      // next query reports a lasting problem.
      this.pool.on("error", () => {});
      return {
        epoch: row.epoch,
        lastSequence: BigInt(row.last_sequence),
        purgedThrough: Object.fromEntries(Object.entries(row.purged_through).map(([k, v]) => [k, BigInt(v)])),
      };
    } catch (error) {
      lock.removeAllListeners("end");
      await lock.end().catch(() => {});
      throw error;
    }
  }

  private connection(): pg.ClientConfig {
    // TCP keepalive notices a dead network path (and so a lost lock) even
    // when idle; an unreachable server fails the call instead of hanging.
    return { connectionString: this.options.connectionString, keepAlive: true, connectionTimeoutMillis: 10_000 };
  }

  private loseLock(cause: Error): void {
    this.lockLost ??= new Error(
      `lost the writer lock on PostgreSQL schema "${this.schema}" (${cause.message}); this server can no longer write and must be restarted`,
    );
  }

  /** Why the lock is taken, naming who holds it as far as PostgreSQL tells. */
  private async describeHolder(client: pg.Client): Promise<string> {
    let holder = "";
    try {
      const { rows } = await client.query<{ pid: number; client_addr: string | null; application_name: string | null }>(
        `SELECT l.pid, host(a.client_addr) AS client_addr, a.application_name
           FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.classid = $1::int4::oid AND l.objid = $2::int4::oid AND l.objsubid = 2 AND l.granted`,
        [LOCK_CLASS, this.lockKey],
      );
      const row = rows[0];
      if (row) holder = ` (PostgreSQL backend pid ${row.pid}${row.client_addr ? `, client ${row.client_addr}` : ""})`;
    } catch {
      // the message below is enough
    }
    return (
      `PostgreSQL schema "${this.schema}" is in use by another Pocket Sync server${holder}: ` +
      "the postgres storage allows one server per schema; stop the other server or use another schema"
    );
  }

  private ready(): pg.Pool {
    if (!this.pool) throw new Error("postgres storage is not open");
    return this.pool;
  }

  private writable(): pg.Pool {
    const pool = this.ready();
    if (this.lockLost) throw this.lockLost;
    return pool;
  }

  /** Runs `work` in one transaction that commits only while this process holds the writer lock. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.writable().connect();
    let broken = false;
    try {
      await client.query("BEGIN");
      const result = await work(client);
      const { rowCount } = await client.query(
        `SELECT 1 FROM pg_locks
          WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND classid = $1::int4::oid AND objid = $2::int4::oid AND objsubid = 2 AND pid = $3 AND granted`,
        [LOCK_CLASS, this.lockKey, this.lockPid],
      );
      if (rowCount !== 1) {
        this.loseLock(new Error("it is no longer held"));
        throw this.lockLost!;
      }
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async getDocuments(keys: readonly DocumentKey[]): Promise<Array<StoredChange | undefined>> {
    if (keys.length === 0) return [];
    const { rows } = await this.ready().query<ChangeRow & { i: string }>(
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
    const { rows } = await this.ready().query<ChangeRow>(
      `SELECT event, committed_at_ms FROM ${this.s}.history WHERE collection = $1 AND document_id = $2 AND revision = $3`,
      [collection, documentId, revision],
    );
    return rows[0] && toStored(rows[0]);
  }

  async getIdempotencyRecords(clientId: string, clientSequences: readonly bigint[]): Promise<Array<IdempotencyRecord | undefined>> {
    if (clientSequences.length === 0) return [];
    const { rows } = await this.ready().query<{ client_sequence: string; record: string }>(
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
    const { rows } = await this.ready().query<ChangeRow>(
      `SELECT event, committed_at_ms FROM ${this.s}.changes
        WHERE collection = $1 AND server_sequence > $2::bigint AND server_sequence <= $3::bigint
        ORDER BY server_sequence LIMIT $4`,
      [collection, afterSequence.toString(), upToSequence.toString(), limit],
    );
    return rows.map(toStored);
  }

  async purge(cutoffMs: number): Promise<PurgeResult> {
    return this.transaction(async (client) => {
      const meta = await client.query<{ purged_through: Record<string, string> }>(`SELECT purged_through FROM ${this.s}.meta WHERE id = 1 FOR UPDATE`);
      const purgedThrough: Record<string, bigint> = Object.fromEntries(
        Object.entries(meta.rows[0]!.purged_through).map(([k, v]) => [k, BigInt(v)]),
      );
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
      await client.query(`DELETE FROM ${this.s}.history WHERE committed_at_ms < $1`, [cutoffMs]);
      const records = await client.query(`DELETE FROM ${this.s}.idempotency WHERE committed_at_ms < $1`, [cutoffMs]);
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
    this.pool = undefined;
    this.lock = undefined;
    await pool?.end();
    if (lock) {
      lock.removeAllListeners("end");
      await lock.query("SELECT pg_advisory_unlock($1::int4, $2::int4)", [LOCK_CLASS, this.lockKey]).catch(() => {});
      await lock.end().catch(() => {});
    }
  }
}
