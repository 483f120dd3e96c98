// The PostgreSQL table layout of one data set (a schema), created when
// missing, and its metadata row.
import { randomUUID } from "node:crypto";
import type pg from "pg";
import type { StorageMeta } from "./types.js";

/** Version of the table layout, kept in meta, for migrations to come. */
export const FORMAT = 1;

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

// Added after the first layout: created on open where missing, ignored by
// servers from before it. The primary key is the rule: a client id is bound
// once, and two commits (even from two servers) cannot both bind it.
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

/** The primary key of client_owners, as PostgreSQL names it. */
export const CLIENT_OWNERS_KEY = "client_owners_pkey";

export const parsePurgedThrough = (json: Record<string, string>): Record<string, bigint> =>
  Object.fromEntries(Object.entries(json).map(([k, v]) => [k, BigInt(v)]));

/**
 * Creates the tables if missing (`quoted` is the quoted schema name) and
 * returns the metadata, in one transaction on `client`.
 */
export async function prepareSchema(client: pg.ClientBase, schema: string, quoted: string): Promise<StorageMeta> {
  await client.query("BEGIN");
  try {
    // Only when missing: a role that may not create (its DBA provisioned
    // the schema) still opens an existing data set.
    const present = await client.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [`${quoted}.meta`]);
    if (!present.rows[0]?.present) await client.query(tables(quoted));
    const owners = await client.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [`${quoted}.client_owners`]);
    if (!owners.rows[0]?.present) await client.query(clientOwnersTable(quoted));
    const superseded = await client.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [`${quoted}.superseded`]);
    if (!superseded.rows[0]?.present) await client.query(supersededTable(quoted));
    await client.query(
      `INSERT INTO ${quoted}.meta (id, format, epoch, last_sequence, purged_through) VALUES (1, $1, $2, 0, '{}') ON CONFLICT (id) DO NOTHING`,
      [FORMAT, randomUUID()],
    );
    const meta = await client.query<{ format: number; epoch: string; last_sequence: string; purged_through: Record<string, string> }>(
      `SELECT format, epoch, last_sequence, purged_through FROM ${quoted}.meta WHERE id = 1`,
    );
    await client.query("COMMIT");
    const row = meta.rows[0]!;
    if (row.format > FORMAT) {
      throw new Error(`schema "${schema}" holds data of a newer Pocket Sync (format ${row.format}; this one reads ${FORMAT})`);
    }
    return { epoch: row.epoch, lastSequence: BigInt(row.last_sequence), purgedThrough: parsePurgedThrough(row.purged_through) };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}
