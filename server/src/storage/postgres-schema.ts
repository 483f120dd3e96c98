// The PostgreSQL table layout of one data set (a schema): created when
// missing, migrated from older formats, and its metadata row. Several servers
// may start together on one schema: each creates or migrates inside one
// transaction holding the schema's migration lock, so exactly one does the
// work and the others find it done.
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { legacyWriterLock, migrationLock } from "./postgres-locks.js";
import type { StorageMeta } from "./types.js";

/**
 * Version of the table layout, kept in meta. 1: one server per schema,
 * sequences assigned in its memory. 2: any number of servers, sequences
 * assigned from the meta row inside each commit, a unique index on the
 * sequence. 3: field indexes (index_entries, and the set every server on the
 * schema must write entries for, in meta). A server refuses a format newer
 * than its own, so a server from before clustering never writes beside a
 * cluster, and one from before field indexes is not restarted beside them.
 */
export const FORMAT = 3;

export const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

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
`;

// Added after the first layout. The primary key is the rule: a client id is
// bound once, and two commits (even from two servers) cannot both bind it.
const clientOwnersTable = (s: string) => `
CREATE TABLE IF NOT EXISTS ${s}.client_owners (
  client_id text COLLATE "C" PRIMARY KEY,
  principal text NOT NULL
);
`;
// Added for per-document read rules (PROTOCOL §13.6): the states commits
// superseded, found by the sequence that superseded them. Created on open
// where missing, like client_owners.
const supersededTable = (s: string) => `
CREATE TABLE IF NOT EXISTS ${s}.superseded (
  collection text COLLATE "C" NOT NULL,
  document_id text COLLATE "C" NOT NULL,
  superseded_by bigint NOT NULL,
  server_sequence bigint NOT NULL,
  event bytea NOT NULL,
  superseded_at_ms double precision NOT NULL,
  PRIMARY KEY (collection, document_id, superseded_by)
);
CREATE INDEX IF NOT EXISTS superseded_at ON ${s}.superseded (superseded_at_ms);
`;

// Format 3: field indexes (IndexEntry in types.ts; postgres-index.ts). The
// primary key is the read order of one value; by_sequence serves the purge,
// which removes the entries below a collection's watermark. meta holds the
// set every server must write entries for (compared by each commit group
// with the counter row it locks) and the indexes built. The trigger is the
// backstop for a server that cannot compare: one from before format 3 still
// running beside a migrated schema. Each commit names the set it writes
// entries for (INDEX_SET_SETTING, postgres.ts); one naming none, once the
// schema has indexes, is refused whole instead of leaving them incomplete.
const indexTables = (s: string) => `
ALTER TABLE ${s}.meta ADD COLUMN IF NOT EXISTS index_set text NOT NULL DEFAULT '[]';
ALTER TABLE ${s}.meta ADD COLUMN IF NOT EXISTS indexes jsonb NOT NULL DEFAULT '{"built": [], "dropping": []}';
CREATE TABLE IF NOT EXISTS ${s}.index_entries (
  collection text COLLATE "C" NOT NULL,
  field text COLLATE "C" NOT NULL,
  value text COLLATE "C" NOT NULL,
  sequence bigint NOT NULL,
  document_id text COLLATE "C" NOT NULL,
  PRIMARY KEY (collection, field, value, sequence, document_id)
);
CREATE INDEX IF NOT EXISTS index_entries_by_sequence ON ${s}.index_entries (collection, sequence);
CREATE OR REPLACE FUNCTION ${s}.require_index_set() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF (SELECT index_set FROM ${s}.meta WHERE id = 1) IS DISTINCT FROM coalesce(nullif(current_setting('${INDEX_SET_SETTING}', true), ''), '[]') THEN
    RAISE EXCEPTION 'this Pocket Sync server does not write the entries of the field indexes of its PostgreSQL schema (it predates them, or was started with another --index): stop it, and run every server on the schema with the same version and --index'
      USING ERRCODE = '${INDEX_SET_MISMATCH}';
  END IF;
  RETURN NULL;
END
$fn$;
DROP TRIGGER IF EXISTS changes_require_index_set ON ${s}.changes;
CREATE TRIGGER changes_require_index_set AFTER INSERT ON ${s}.changes FOR EACH STATEMENT EXECUTE FUNCTION ${s}.require_index_set();
`;

/** The transaction setting in which a commit names the index set it writes entries for. */
export const INDEX_SET_SETTING = "pocket_sync.index_set";
/** The SQLSTATE of the trigger's refusal (class PS: Pocket Sync's own). */
export const INDEX_SET_MISMATCH = "PS001";

// Format 2: every server reads the commits of the others in sequence order,
// across collections (and sequences are unique across collections: a second
// line of defence behind the counter row).
const sequenceIndex = (s: string) => `CREATE UNIQUE INDEX IF NOT EXISTS changes_sequence ON ${s}.changes (server_sequence);`;

/** Primary keys, as PostgreSQL names them: a violation of one names the rule broken. */
export const CLIENT_OWNERS_KEY = "client_owners_pkey";
export const IDEMPOTENCY_KEY = "idempotency_pkey";

export const parsePurgedThrough = (json: Record<string, string>): Record<string, bigint> =>
  Object.fromEntries(Object.entries(json).map(([k, v]) => [k, BigInt(v)]));

/** A server from before clustering still runs on the schema: migrating under it would corrupt its sequences. */
export class LegacyServerRunning extends Error {
  constructor(schema: string) {
    super(
      `PostgreSQL schema "${schema}" is in use by a Pocket Sync server from before several servers could share a schema (storage format 1): ` +
        "stop it; this server then migrates the schema, and any number of servers of this version can share it",
    );
    this.name = "LegacyServerRunning";
  }
}

/**
 * Creates the tables if missing or migrates them (`quoted` is the quoted
 * schema name), and returns the metadata, in one transaction on `client`.
 */
export async function prepareSchema(client: pg.ClientBase, schema: string, quoted: string): Promise<StorageMeta> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1::int4, $2::int4)", migrationLock(schema));
    // DDL only for what is missing: a role that may not create (its DBA
    // provisioned the schema) still opens an existing data set.
    const present = await client.query<{ meta: boolean; owners: boolean; bySequence: boolean; superseded: boolean; index: boolean }>(
      `SELECT to_regclass($1) IS NOT NULL AS meta, to_regclass($2) IS NOT NULL AS owners, to_regclass($3) IS NOT NULL AS "bySequence",
              to_regclass($4) IS NOT NULL AS superseded, to_regclass($5) IS NOT NULL AS "index"`,
      [`${quoted}.meta`, `${quoted}.client_owners`, `${quoted}.changes_sequence`, `${quoted}.superseded`, `${quoted}.index_entries`],
    );
    const has = present.rows[0]!;
    if (!has.meta) {
      await client.query(tables(quoted) + clientOwnersTable(quoted) + sequenceIndex(quoted) + supersededTable(quoted) + indexTables(quoted));
      await client.query(
        `INSERT INTO ${quoted}.meta (id, format, epoch, last_sequence, purged_through) VALUES (1, $1, $2, 0, '{}') ON CONFLICT (id) DO NOTHING`,
        [FORMAT, randomUUID()],
      );
    }
    // Read-rule states only add a table, and the read rule's name a column:
    // no format change, no server to stop (older ones ignore both).
    if (has.meta && !has.superseded) await client.query(supersededTable(quoted));
    const named = await client.query<{ found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'read_rule' AND NOT attisdropped) AS found`,
      [`${quoted}.meta`],
    );
    if (!named.rows[0]!.found) await client.query(`ALTER TABLE ${quoted}.meta ADD COLUMN read_rule text NOT NULL DEFAULT ''`);
    const read = () =>
      client.query<{ format: number; epoch: string; last_sequence: string; purged_through: Record<string, string> }>(
        `SELECT format, epoch, last_sequence, purged_through FROM ${quoted}.meta WHERE id = 1`,
      );
    let row = (await read()).rows[0]!;
    if (row.format > FORMAT) {
      throw new Error(`schema "${schema}" holds data of a newer Pocket Sync (format ${row.format}; this one reads ${FORMAT})`);
    }
    if (row.format < FORMAT || !has.owners || !has.bySequence || !has.index) {
      // A format-1 server holds its session lock for as long as it runs.
      const legacy = await client.query<{ free: boolean }>("SELECT pg_try_advisory_xact_lock($1::int4, $2::int4) AS free", legacyWriterLock(schema));
      if (!legacy.rows[0]?.free) throw new LegacyServerRunning(schema);
      if (!has.owners) await client.query(clientOwnersTable(quoted));
      if (!has.bySequence) await client.query(sequenceIndex(quoted));
      if (!has.index) await client.query(indexTables(quoted));
      if (row.format < FORMAT) await client.query(`UPDATE ${quoted}.meta SET format = $1 WHERE id = 1`, [FORMAT]);
      row = (await read()).rows[0]!;
    }
    await client.query("COMMIT");
    return { epoch: row.epoch, lastSequence: BigInt(row.last_sequence), purgedThrough: parsePurgedThrough(row.purged_through) };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}
