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

/** Where the counter moves with a batch, and what the commit notifies. */
export interface CounterMove {
  readonly lastSequence: bigint;
  readonly channel: string;
  readonly payload: string;
}

/**
 * Writes a commit group's batch, moves the counter and queues the commit's
 * notification (`s` is the quoted schema; the caller holds the counter row),
 * in ONE statement: every part is a data-modifying CTE, all run on the same
 * snapshot, and none reads what another writes. One round trip while every
 * other server's commits wait.
 */
export async function writeBatch(client: pg.ClientBase, s: string, batch: CommitBatch, counter: CounterMove | undefined): Promise<void> {
  // A document written twice in one batch ends at its last change; the
  // earlier one is replaced before anyone can see it, as in LevelDB.
  const changes = lastByKey(batch.changes, (c) => `${c.event.collection}\u0000${c.event.documentId}`);
  const history = lastByKey(batch.history ?? [], (h) => `${h.event.collection}\u0000${h.event.documentId}\u0000${h.event.revision}`);
  const superseded = lastByKey(batch.superseded ?? [], (k) => `${k.event.collection}\u0000${k.event.documentId}\u0000${k.supersededBy}`);
  const records = batch.idempotency;
  const owners = batch.owners ?? [];
  const values: unknown[] = [];
  const $ = (value: unknown, type: string) => {
    values.push(value);
    return `$${values.length}::${type}`;
  };
  const parts: string[] = [];
  if (changes.length) {
    // Drop each document's previous index entry (found through `documents`
    // as it was before the statement), point `documents` at the new
    // sequence, insert the new entries.
    parts.push(`k AS (
         SELECT * FROM unnest(${$(changes.map((c) => c.event.collection), "text[]")}, ${$(changes.map((c) => c.event.serverSequence.toString()), "bigint[]")},
           ${$(changes.map((c) => c.event.documentId), "text[]")}, ${$(changes.map((c) => bytes(c.event)), "bytea[]")},
           ${$(changes.map((c) => c.committedAtMs), "float8[]")}, ${$(changes.map((c) => c.event.deleted), "boolean[]")})
           AS k(collection, server_sequence, document_id, event, committed_at_ms, deleted)
       ), replaced AS (
         DELETE FROM ${s}.changes c USING ${s}.documents d, k
          WHERE d.collection = k.collection AND d.document_id = k.document_id
            AND c.collection = d.collection AND c.server_sequence = d.server_sequence
       ), moved AS (
         INSERT INTO ${s}.documents (collection, document_id, server_sequence)
         SELECT collection, document_id, server_sequence FROM k
         ON CONFLICT (collection, document_id) DO UPDATE SET server_sequence = EXCLUDED.server_sequence
       ), inserted AS (
         INSERT INTO ${s}.changes (collection, server_sequence, document_id, event, committed_at_ms, deleted)
         SELECT collection, server_sequence, document_id, event, committed_at_ms, deleted FROM k
       )`);
  }
  if (history.length) {
    parts.push(`kept AS (
         INSERT INTO ${s}.history (collection, document_id, revision, event, committed_at_ms)
         SELECT * FROM unnest(${$(history.map((h) => h.event.collection), "text[]")}, ${$(history.map((h) => h.event.documentId), "text[]")},
           ${$(history.map((h) => h.event.revision), "text[]")}, ${$(history.map((h) => bytes(h.event)), "bytea[]")}, ${$(history.map((h) => h.committedAtMs), "float8[]")})
         ON CONFLICT (collection, document_id, revision) DO UPDATE SET event = EXCLUDED.event, committed_at_ms = EXCLUDED.committed_at_ms
       )`);
  }
  if (superseded.length) {
    // With the change that replaced them, so a reader of that change finds them (PROTOCOL §13.6).
    parts.push(`states AS (
         INSERT INTO ${s}.superseded (collection, document_id, superseded_by, server_sequence, event, superseded_at_ms)
         SELECT * FROM unnest(${$(superseded.map((k) => k.event.collection), "text[]")}, ${$(superseded.map((k) => k.event.documentId), "text[]")},
           ${$(superseded.map((k) => k.supersededBy.toString()), "bigint[]")}, ${$(superseded.map((k) => k.event.serverSequence.toString()), "bigint[]")},
           ${$(superseded.map((k) => bytes(k.event)), "bytea[]")}, ${$(superseded.map((k) => k.supersededAtMs), "float8[]")})
         ON CONFLICT (collection, document_id, superseded_by) DO UPDATE
           SET server_sequence = EXCLUDED.server_sequence, event = EXCLUDED.event, superseded_at_ms = EXCLUDED.superseded_at_ms
       )`);
  }
  const index = batch.index ?? [];
  if (index.length) {
    // An entry is a fact (this document held or left this value at this
    // sequence): written twice, it is the same entry.
    parts.push(`indexed AS (
         INSERT INTO ${s}.index_entries (collection, field, value, sequence, document_id)
         SELECT * FROM unnest(${$(index.map((e) => e.collection), "text[]")}, ${$(index.map((e) => e.field), "text[]")}, ${$(index.map((e) => e.value), "text[]")},
           ${$(index.map((e) => e.sequence.toString()), "bigint[]")}, ${$(index.map((e) => e.documentId), "text[]")})
         ON CONFLICT DO NOTHING
       )`);
  }
  if (records.length) {
    // No ON CONFLICT: a key is stored once. The group read it as absent
    // while holding the counter, so a violation means a writer that did not.
    parts.push(`recorded AS (
         INSERT INTO ${s}.idempotency (client_id, client_sequence, record, committed_at_ms)
         SELECT * FROM unnest(${$(records.map((r) => r.clientId), "text[]")}, ${$(records.map((r) => int64(r.clientSequence)), "bigint[]")},
           ${$(records.map(encodeRecord), "text[]")}, ${$(records.map((r) => r.committedAtMs), "float8[]")})
       )`);
  }
  if (owners.length) {
    parts.push(`bound AS (
         INSERT INTO ${s}.client_owners (client_id, principal)
         SELECT * FROM unnest(${$(owners.map((o) => o.clientId), "text[]")}, ${$(owners.map((o) => o.principal), "text[]")})
       )`);
  }
  let main = "SELECT 1";
  if (counter) {
    parts.push(`counter AS (UPDATE ${s}.meta SET last_sequence = ${$(counter.lastSequence.toString(), "bigint")} WHERE id = 1 RETURNING 1)`);
    // Delivered when the transaction commits, to every server LISTENing.
    main = `SELECT pg_notify(${$(counter.channel, "text")}, ${$(counter.payload, "text")}) FROM counter`;
  }
  try {
    await client.query(`WITH ${parts.join(", ")} ${main}`, values);
  } catch (error) {
    const record = violated(error, IDEMPOTENCY_KEY);
    if (record) {
      const taken = records.find((r) => record.detail?.includes(`(${r.clientId}, ${int64(r.clientSequence)})`)) ?? records[0]!;
      throw new IdempotencyKeyTaken(taken.clientId, taken.clientSequence);
    }
    const owner = violated(error, CLIENT_OWNERS_KEY);
    if (owner) throw new ClientIdAlreadyBound((owners.find((o) => owner.detail?.includes(`(${o.clientId})`)) ?? owners[0]!).clientId);
    throw error;
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
  return raiseWatermarks(client, s, rows);
}

/**
 * Removes up to PURGE_CHUNK superseded states (PROTOCOL §13.6) older than
 * `cutoffMs`, raising each collection's purge watermark to the sequence that
 * superseded one, in the same transaction: a checkpoint below it might need
 * the state. The caller holds the counter row.
 */
export async function purgeSuperseded(client: pg.ClientBase, s: string, cutoffMs: number): Promise<{ purged: number; purgedThrough: Record<string, bigint> }> {
  const { rows } = await client.query<{ collection: string; through: string; purged: number }>(
    `WITH gone AS (
       DELETE FROM ${s}.superseded WHERE ctid IN (
         SELECT ctid FROM ${s}.superseded WHERE superseded_at_ms < $1 LIMIT $2
       )
       RETURNING collection, superseded_by
     )
     SELECT collection, max(superseded_by)::text AS through, count(*)::int AS purged FROM gone GROUP BY collection`,
    [cutoffMs, PURGE_CHUNK],
  );
  return raiseWatermarks(client, s, rows);
}

/** Raises the purge watermarks to what a purge chunk removed; returns how many rows it removed and the watermarks after. */
async function raiseWatermarks(
  client: pg.ClientBase,
  s: string,
  removed: ReadonlyArray<{ collection: string; through: string; purged: number }>,
): Promise<{ purged: number; purgedThrough: Record<string, bigint> }> {
  const meta = await client.query<{ purged_through: Record<string, string> }>(`SELECT purged_through FROM ${s}.meta WHERE id = 1`);
  const purgedThrough = parsePurgedThrough(meta.rows[0]!.purged_through);
  let purged = 0;
  for (const row of removed) {
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
