// The reads of the PostgreSQL storage, on whatever runs a query: the pool
// (pulls, streams catching up, reading other servers' commits) or a commit
// group's transaction (the reads conflict detection and idempotency rest on).
import type pg from "pg";
import { decodeEvent, decodeRecord } from "./codec.js";
import { parsePurgedThrough } from "./postgres-schema.js";
import type { ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { BatchRead, BatchReadResult, ChangesPage, CommittedPosition, DocumentKey, GroupReader, IdempotencyRecord, IndexPage, IndexQuery, StateQuery, StatesAt, StoredChange } from "./types.js";

export type Query = <R extends pg.QueryResultRow>(text: string, values: unknown[]) => Promise<pg.QueryResult<R>>;

export const int64 = (value: bigint) => BigInt.asIntN(64, value).toString();

interface ChangeRow {
  event: Buffer;
  committed_at_ms: number;
}
const toStored = (row: ChangeRow): StoredChange => ({ event: decodeEvent(row.event), committedAtMs: row.committed_at_ms });

interface PositionRow {
  last_sequence: string;
  purged_through: Record<string, string>;
}
const toPosition = (row: PositionRow): CommittedPosition => ({
  lastSequence: BigInt(row.last_sequence),
  purgedThrough: parsePurgedThrough(row.purged_through),
});

/** The reads of one schema (`s` is its quoted name). */
export class PostgresReads implements GroupReader {
  constructor(
    private readonly query: Query,
    private readonly s: string,
  ) {}

  async getDocuments(keys: readonly DocumentKey[]): Promise<Array<StoredChange | undefined>> {
    if (keys.length === 0) return [];
    const { rows } = await this.query<ChangeRow & { i: string }>(
      `SELECT k.i, c.event, c.committed_at_ms
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(collection, document_id, i)
        CROSS JOIN LATERAL (${latestOf(this.s)}) c`,
      [keys.map((k) => k.collection), keys.map((k) => k.documentId)],
    );
    const result: Array<StoredChange | undefined> = keys.map(() => undefined);
    for (const row of rows) result[Number(row.i) - 1] = toStored(row);
    return result;
  }

  async getHistoricState(collection: string, documentId: string, revision: string): Promise<StoredChange | undefined> {
    const { rows } = await this.query<ChangeRow>(
      `SELECT event, committed_at_ms FROM ${this.s}.history WHERE collection = $1 AND document_id = $2 AND revision = $3`,
      [collection, documentId, revision],
    );
    return rows[0] && toStored(rows[0]);
  }

  async getIdempotencyRecords(clientId: string, clientSequences: readonly bigint[]): Promise<Array<IdempotencyRecord | undefined>> {
    if (clientSequences.length === 0) return [];
    const { rows } = await this.query<{ client_sequence: string; record: string }>(
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
    const { rows } = await this.query<{ principal: string }>(`SELECT principal FROM ${this.s}.client_owners WHERE client_id = $1`, [clientId]);
    return rows[0]?.principal;
  }

  /** One statement for all of it (one round trip while a group holds the counter). */
  async readBatch(read: BatchRead): Promise<BatchReadResult> {
    const result: BatchReadResult = {
      documents: read.documents.map(() => undefined),
      records: read.records.map(() => undefined),
      owners: read.owners.map(() => undefined),
    };
    if (read.documents.length + read.records.length + read.owners.length === 0) return result;
    const { rows } = await this.query<{ kind: "d" | "r" | "o"; i: string; event: Buffer | null; text: string | null; committed_at_ms: number | null }>(
      `SELECT 'd' AS kind, k.i, c.event, NULL::text AS text, c.committed_at_ms
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(collection, document_id, i)
        CROSS JOIN LATERAL (${latestOf(this.s)}) c
       UNION ALL
       SELECT 'r', r.i, NULL, x.record, NULL
         FROM unnest($3::text[], $4::bigint[]) WITH ORDINALITY AS r(client_id, client_sequence, i)
         JOIN ${this.s}.idempotency x ON x.client_id = r.client_id AND x.client_sequence = r.client_sequence
       UNION ALL
       SELECT 'o', o.i, NULL, co.principal, NULL
         FROM unnest($5::text[]) WITH ORDINALITY AS o(client_id, i)
         JOIN ${this.s}.client_owners co ON co.client_id = o.client_id`,
      [
        read.documents.map((k) => k.collection),
        read.documents.map((k) => k.documentId),
        read.records.map((r) => r.clientId),
        read.records.map((r) => int64(r.clientSequence)),
        read.owners,
      ],
    );
    for (const row of rows) {
      const i = Number(row.i) - 1;
      if (row.kind === "d") result.documents[i] = toStored(row as ChangeRow);
      else if (row.kind === "r") result.records[i] = decodeRecord(row.text!);
      else result.owners[i] = row.text!;
    }
    return result;
  }

  async readPosition(): Promise<CommittedPosition> {
    const { rows } = await this.query<PositionRow>(`SELECT last_sequence, purged_through FROM ${this.s}.meta WHERE id = 1`, []);
    return toPosition(rows[0]!);
  }

  /**
   * One statement, so one snapshot: the position and the changes agree. A
   * commit is readable once its counter update is, and commits update the
   * counter in sequence order, so nothing at or below the position's last
   * sequence is missing; a purge removes tombstones and raises its watermark
   * in one transaction, so no tombstone is missing below a watermark read here.
   */
  async readPage(from: ReadonlyArray<readonly [string, bigint]>, limit: number, upTo?: bigint): Promise<ChangesPage> {
    const { rows } = await this.query<PositionRow & Partial<ChangeRow> & { i: string }>(
      `WITH m AS (SELECT last_sequence, purged_through FROM ${this.s}.meta WHERE id = 1)
       SELECT m.last_sequence, m.purged_through, p.i, c.event, c.committed_at_ms
         FROM m
        CROSS JOIN unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS p(collection, after, i)
         LEFT JOIN LATERAL (
           SELECT event, committed_at_ms, server_sequence FROM ${this.s}.changes
            WHERE collection = p.collection AND server_sequence > p.after
              AND server_sequence <= LEAST(m.last_sequence, $3::bigint)
            ORDER BY server_sequence LIMIT $4
         ) c ON true
        ORDER BY p.i, c.server_sequence`,
      [from.map(([c]) => c), from.map(([, after]) => after.toString()), (upTo ?? 2n ** 63n - 1n).toString(), limit],
    );
    if (rows.length === 0) return { position: await this.readPosition(), changes: [] }; // nothing asked
    const changes: StoredChange[][] = from.map(() => []);
    for (const row of rows) if (row.event) changes[Number(row.i) - 1]!.push(toStored(row as ChangeRow));
    return { position: toPosition(rows[0]!), changes };
  }

  /**
   * One statement, so one snapshot with the position (as readPage), and the
   * index set in force in the database, for the caller to check: a set
   * changed by another server means this one's entries may be gone. Per
   * value, the first `limit` entries in key order (a seek and `limit` rows at
   * most); merged, each (sequence, document) once, the first `limit`.
   */
  async readIndex(query: IndexQuery): Promise<IndexPage & { indexSet: string }> {
    const values = [...new Set(query.values)];
    const { rows } = await this.query<PositionRow & { index_set: string; sequence: string | null; document_id: string | null }>(
      `WITH m AS (SELECT last_sequence, purged_through, index_set FROM ${this.s}.meta WHERE id = 1)
       SELECT m.last_sequence, m.purged_through, m.index_set, e.sequence, e.document_id
         FROM m
         LEFT JOIN LATERAL (
           SELECT DISTINCT x.sequence, x.document_id
             FROM unnest($3::text[]) AS v(value)
            CROSS JOIN LATERAL (
              SELECT sequence, document_id FROM ${this.s}.index_entries
               WHERE collection = $1 AND field = $2 AND value = v.value
                 AND sequence > $4::bigint AND sequence <= LEAST(m.last_sequence, $5::bigint)
               ORDER BY sequence, document_id LIMIT $6
            ) x
            ORDER BY x.sequence, x.document_id LIMIT $6
         ) e ON true
        ORDER BY e.sequence, e.document_id`,
      [query.collection, query.field, values, query.after.toString(), (query.upTo ?? 2n ** 63n - 1n).toString(), Math.max(0, query.limit)],
    );
    const entries = rows.filter((r) => r.sequence !== null).map((r) => ({ sequence: BigInt(r.sequence!), documentId: r.document_id! }));
    return { entries, position: toPosition(rows[0]!), indexSet: rows[0]!.index_set };
  }

  /** Every collection's latest changes in (after, min(upTo, last committed)], in sequence order, in one snapshot. */
  async readCommitted(after: bigint, upTo: bigint, limit: number): Promise<{ changes: StoredChange[]; lastSequence: bigint }> {
    const { rows } = await this.query<{ last_sequence: string } & Partial<ChangeRow>>(
      `WITH m AS (SELECT last_sequence FROM ${this.s}.meta WHERE id = 1)
       SELECT m.last_sequence, c.event, c.committed_at_ms
         FROM m
         LEFT JOIN LATERAL (
           SELECT event, committed_at_ms, server_sequence FROM ${this.s}.changes
            WHERE server_sequence > $1::bigint AND server_sequence <= LEAST(m.last_sequence, $2::bigint)
            ORDER BY server_sequence LIMIT $3
         ) c ON true
        ORDER BY c.server_sequence`,
      [after.toString(), upTo.toString(), limit],
    );
    return {
      lastSequence: BigInt(rows[0]!.last_sequence),
      changes: rows.filter((row) => row.event).map((row) => toStored(row as ChangeRow)),
    };
  }

  /**
   * Per query, the first state superseded after its sequence: the document's
   * state then, if it already existed. One statement, so one snapshot with
   * the purge watermarks: a purge deletes states and raises them in one
   * transaction.
   */
  async getStatesAt(queries: readonly StateQuery[]): Promise<StatesAt> {
    const { rows } = await this.query<{ purged_through: Record<string, string>; i: string | null; event: Buffer | null }>(
      `WITH m AS (SELECT purged_through FROM ${this.s}.meta WHERE id = 1),
       found AS (
         SELECT q.i, s.event
           FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS q(collection, document_id, at, i)
          CROSS JOIN LATERAL (
            SELECT event, server_sequence FROM ${this.s}.superseded x
             WHERE x.collection = q.collection AND x.document_id = q.document_id AND x.superseded_by > q.at
             ORDER BY x.superseded_by LIMIT 1
          ) s
          WHERE s.server_sequence <= q.at
       )
       SELECT m.purged_through, found.i, found.event FROM m LEFT JOIN found ON true`,
      [queries.map((q) => q.collection), queries.map((q) => q.documentId), queries.map((q) => q.sequence.toString())],
    );
    const states: Array<ChangeEvent | undefined> = queries.map(() => undefined);
    for (const row of rows) if (row.i !== null && row.event) states[Number(row.i) - 1] = decodeEvent(row.event);
    return { states, purgedThrough: parsePurgedThrough(rows[0]!.purged_through) };
  }

  /**
   * A loose index scan on the primary key (collection, server_sequence): one
   * index probe per collection, where DISTINCT would read every row.
   */
  async listCollections(): Promise<string[]> {
    const { rows } = await this.query<{ collection: string }>(listCollectionsSql(this.s), []);
    return rows.map((r) => r.collection);
  }
}

/** Every collection of schema `s` holding a change, in byte order: one index probe per collection. */
export const listCollectionsSql = (s: string) =>
  `WITH RECURSIVE found AS (
     (SELECT collection FROM ${s}.changes ORDER BY collection LIMIT 1)
     UNION ALL
     SELECT (SELECT c.collection FROM ${s}.changes c WHERE c.collection > found.collection ORDER BY c.collection LIMIT 1)
       FROM found WHERE found.collection IS NOT NULL
   )
   SELECT collection FROM found WHERE collection IS NOT NULL`;

/**
 * The latest change of the document `k` names, one index lookup per key.
 * As a plain join the planner takes a few hundred keys for a reason to hash
 * the whole documents table (measured: 100,000 rows read to find 1,000), so
 * a filtered read would cost the collection's size; LIMIT keeps the
 * subquery from being flattened into such a join.
 */
function latestOf(schema: string): string {
  return `SELECT c.event, c.committed_at_ms
            FROM ${schema}.documents d
            JOIN ${schema}.changes c ON c.collection = d.collection AND c.server_sequence = d.server_sequence
           WHERE d.collection = k.collection AND d.document_id = k.document_id
           LIMIT 1`;
}
