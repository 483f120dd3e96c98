// The writes of the PostgreSQL storage, each inside a transaction the storage
// opened: a commit group's batch, and one chunk of a purge.
import type pg from "pg";
import { lastByKey } from "./batch-rules.js";
import { encodeEvent, encodeRecord } from "./codec.js";
import { int64 } from "./postgres-reads.js";
import { CLIENT_OWNERS_KEY, IDEMPOTENCY_KEY, parsePurgedThrough } from "./postgres-schema.js";
import { ClientIdAlreadyBound, IdempotencyKeyTaken, type CommitBatch, type StoredChange } from "./types.js";

const bytes = (event: StoredChange["event"]) => {
  const encoded = encodeEvent(event);
  return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
};

/** A unique-key violation, by the constraint PostgreSQL names. */
function violated(error: unknown, constraint: string): { detail?: string } | undefined {
  const e = error as { code?: string; constraint?: string; detail?: string };
  return e.code === "23505" && e.constraint === constraint ? e : undefined;
}

/**
 * Writes a commit group's batch and moves the counter to its last sequence
 * (`s` is the quoted schema). The caller holds the counter row.
 */
export async function writeBatch(client: pg.ClientBase, s: string, batch: CommitBatch): Promise<void> {
  // A document written twice in one batch ends at its last change; the
  // earlier one is replaced before anyone can see it, as in LevelDB.
  const changes = lastByKey(batch.changes, (c) => `${c.event.collection}\u0000${c.event.documentId}`);
  const history = lastByKey(batch.history ?? [], (h) => `${h.event.collection}\u0000${h.event.documentId}\u0000${h.event.revision}`);
  if (changes.length) {
    // One statement: drop each document's previous index entry (found
    // through `documents` as it was before the statement), point
    // `documents` at the new sequence, insert the new entries.
    await client.query(
      `WITH k AS (
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[], $5::float8[], $6::boolean[])
           AS k(collection, server_sequence, document_id, event, committed_at_ms, deleted)
       ), replaced AS (
         DELETE FROM ${s}.changes c USING ${s}.documents d, k
          WHERE d.collection = k.collection AND d.document_id = k.document_id
            AND c.collection = d.collection AND c.server_sequence = d.server_sequence
       ), moved AS (
         INSERT INTO ${s}.documents (collection, document_id, server_sequence)
         SELECT collection, document_id, server_sequence FROM k
         ON CONFLICT (collection, document_id) DO UPDATE SET server_sequence = EXCLUDED.server_sequence
       )
       INSERT INTO ${s}.changes (collection, server_sequence, document_id, event, committed_at_ms, deleted)
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
      `INSERT INTO ${s}.history (collection, document_id, revision, event, committed_at_ms)
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
  const records = batch.idempotency;
  if (records.length) {
    // No ON CONFLICT: a key is stored once. The group read it as absent
    // while holding the counter, so a violation means a writer that did not.
    try {
      await client.query(
        `INSERT INTO ${s}.idempotency (client_id, client_sequence, record, committed_at_ms)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::float8[])`,
        [records.map((r) => r.clientId), records.map((r) => int64(r.clientSequence)), records.map(encodeRecord), records.map((r) => r.committedAtMs)],
      );
    } catch (error) {
      const taken = violated(error, IDEMPOTENCY_KEY);
      if (!taken) throw error;
      const record = records.find((r) => taken.detail?.includes(`(${r.clientId}, ${int64(r.clientSequence)})`)) ?? records[0]!;
      throw new IdempotencyKeyTaken(record.clientId, record.clientSequence);
    }
  }
  const owners = batch.owners ?? [];
  if (owners.length) {
    try {
      await client.query(`INSERT INTO ${s}.client_owners (client_id, principal) SELECT * FROM unnest($1::text[], $2::text[])`, [
        owners.map((o) => o.clientId),
        owners.map((o) => o.principal),
      ]);
    } catch (error) {
      const taken = violated(error, CLIENT_OWNERS_KEY);
      if (!taken) throw error;
      throw new ClientIdAlreadyBound((owners.find((o) => taken.detail?.includes(`(${o.clientId})`)) ?? owners[0]!).clientId);
    }
  }
}

/** Tombstones removed per purge transaction: each holds the counter row, so commits wait no longer than one chunk. */
export const PURGE_CHUNK = 1_000;

/**
 * Removes up to PURGE_CHUNK tombstones older than `cutoffMs` with their
 * document entries, raising the purge watermarks in the same transaction.
 * The caller holds the counter row. Returns how many it removed and the
 * watermarks after.
 */
export async function purgeTombstones(client: pg.ClientBase, s: string, cutoffMs: number): Promise<{ purged: number; purgedThrough: Record<string, bigint> }> {
  const meta = await client.query<{ purged_through: Record<string, string> }>(`SELECT purged_through FROM ${s}.meta WHERE id = 1`);
  const purgedThrough = parsePurgedThrough(meta.rows[0]!.purged_through);
  // A tombstone is its document's only index entry: both go.
  const { rows } = await client.query<{ collection: string; through: string; purged: number }>(
    `WITH gone AS (
       DELETE FROM ${s}.changes WHERE ctid IN (
         SELECT ctid FROM ${s}.changes WHERE deleted AND committed_at_ms < $1 LIMIT $2
       )
       RETURNING collection, document_id, server_sequence
     ), unindexed AS (
       DELETE FROM ${s}.documents d USING gone g
        WHERE d.collection = g.collection AND d.document_id = g.document_id AND d.server_sequence = g.server_sequence
     )
     SELECT collection, max(server_sequence)::text AS through, count(*)::int AS purged FROM gone GROUP BY collection`,
    [cutoffMs, PURGE_CHUNK],
  );
  let purged = 0;
  for (const row of rows) {
    purged += row.purged;
    const through = BigInt(row.through);
    if (through > (purgedThrough[row.collection] ?? 0n)) purgedThrough[row.collection] = through;
  }
  if (purged > 0) {
    await client.query(`UPDATE ${s}.meta SET purged_through = $1::jsonb WHERE id = 1`, [
      JSON.stringify(Object.fromEntries(Object.entries(purgedThrough).map(([k, v]) => [k, v.toString()]))),
    ]);
  }
  return { purged, purgedThrough };
}

/** Removes up to `limit` rows of `table` (history or idempotency) committed before `cutoffMs`; returns how many. */
export async function purgeOlderThan(client: pg.ClientBase, s: string, table: "history" | "idempotency", cutoffMs: number, limit: number): Promise<number> {
  const { rowCount } = await client.query(
    `DELETE FROM ${s}.${table} WHERE ctid IN (SELECT ctid FROM ${s}.${table} WHERE committed_at_ms < $1 LIMIT $2)`,
    [cutoffMs, limit],
  );
  return rowCount ?? 0;
}
