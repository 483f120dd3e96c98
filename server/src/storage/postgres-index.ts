// Field indexes on PostgreSQL (IndexEntry in types.ts): the index set of a
// schema, its backfill and drop, and the purge of entries no reader needs.
//
// Every server on a schema must write the entries of the same set, or a
// reader on one would miss what another committed. The set is the
// database's (meta.index_set); each commit group reads it with the counter
// row it locks anyway and fails, as unavailable, when it is not this
// server's: the operator restarted another server with another --index, and
// this one must be restarted the same way.
//
// Why a backfill needs no lock: the set is switched (and `since` read) in
// one transaction holding the counter row, so every commit after `since`
// writes its own entries (the caller's part), and every commit at or before
// it is in `documents` before the backfill's first read. A backfill read
// racing a commit writes an entry of a state the commit just replaced: one
// extra entry, which readers resolve to the latest state like any other.
import type pg from "pg";
import { SerialQueue } from "./batch-rules.js";
import { decodeEvent } from "./codec.js";
import { StorageUnavailableError } from "./errors.js";
import { builtOf, indexSetJson, planIndexes, type IndexSetJson } from "./index-set.js";
import { covers, fieldValues, specKey } from "./index-values.js";
import type { Query } from "./postgres-reads.js";
import type { BuiltIndex, IndexChanges, IndexSpec } from "./types.js";

/** Documents read per backfill step; entries judged per purge step. */
const CHUNK = 500;
const PURGE_WINDOW = 5_000;

/** A set as people write it: `[todos.listId, *.ownerId]`. */
const shown = (set: string) => `[${(JSON.parse(set) as string[]).join(", ")}]`;

/** What the indexes need of the storage: its pool and its transactions. */
export interface IndexHost {
  readonly schema: string;
  /** The quoted schema. */
  readonly s: string;
  readonly query: Query;
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T>;
}

export class PostgresIndexes {
  /** The set this server writes entries for (specSetKey); the database's until setIndexes. */
  private set = "[]";
  private built: BuiltIndex[] = [];
  /** setIndexes calls, one at a time. */
  private readonly changes = new SerialQueue();

  constructor(private readonly host: IndexHost) {}

  /** Takes up the database's set and built indexes (at open). */
  async load(): Promise<void> {
    const { rows } = await this.host.query<{ index_set: string; indexes: IndexSetJson }>(`SELECT index_set, indexes FROM ${this.host.s}.meta WHERE id = 1`, []);
    this.set = rows[0]!.index_set;
    this.built = builtOf(rows[0]!.indexes);
  }

  /** The set this server writes entries for, as the database holds it. */
  get indexSet(): string {
    return this.set;
  }

  inForce(): readonly BuiltIndex[] {
    return this.built;
  }

  /** Throws unless `databaseSet` (read in the caller's view) is this server's. */
  check(databaseSet: string): void {
    if (databaseSet === this.set) return;
    throw new StorageUnavailableError(
      `PostgreSQL schema "${this.host.schema}" indexes ${shown(databaseSet)} (another server was started with that --index) but this server indexes ${shown(this.set)}: ` +
        "restart this server with the same --index as the others",
    );
  }

  setIndexes(specs: readonly IndexSpec[]): Promise<IndexChanges> {
    return this.changes.run(() => this.changeIndexes(specs));
  }

  private async changeIndexes(specs: readonly IndexSpec[]): Promise<IndexChanges> {
    const { s } = this.host;
    // Switch the set, holding the counter row: commits after this one write
    // the target's entries. This server takes it up before the row is
    // released, so none of its groups that find the new set in the row
    // takes it for another server's.
    const previous = this.set;
    const { plan, since } = await this.host.transaction(async (client) => {
      const { rows } = await client.query<{ last_sequence: string; indexes: IndexSetJson }>(`SELECT last_sequence, indexes FROM ${s}.meta WHERE id = 1 FOR UPDATE`);
      const plan = planIndexes(rows[0]!.indexes, specs);
      await client.query(`UPDATE ${s}.meta SET index_set = $1, indexes = $2::jsonb WHERE id = 1`, [plan.targetSet, JSON.stringify(indexSetJson(plan.kept, plan.stale))]);
      this.set = plan.targetSet;
      return { plan, since: BigInt(rows[0]!.last_sequence) };
    }).catch((error: unknown) => {
      this.set = previous;
      throw error;
    });
    this.built = plan.kept;
    for (const spec of plan.stale) await this.dropEntries(spec, plan.target);
    for (const spec of plan.toBuild) await this.backfill(spec);
    const built = [...plan.kept, ...plan.toBuild.map((spec) => ({ ...spec, since }))];
    const { rowCount } = await this.host.query(`UPDATE ${s}.meta SET indexes = $1::jsonb WHERE id = 1 AND index_set = $2`, [JSON.stringify(indexSetJson(built)), plan.targetSet]);
    if (rowCount === 0) {
      // Another server switched the set meanwhile: this one is the odd one out.
      const { rows } = await this.host.query<{ index_set: string }>(`SELECT index_set FROM ${s}.meta WHERE id = 1`, []);
      this.check(rows[0]!.index_set);
    }
    this.built = built;
    return { built: plan.toBuild.map(specKey), dropped: plan.dropped.map(specKey) };
  }

  /**
   * Deletes the entries of `spec` no spec of `target` covers, in one
   * statement: no server writes them any more and no reader reads them, so
   * it holds no lock a commit waits for.
   */
  private async dropEntries(spec: IndexSpec, target: readonly IndexSpec[]): Promise<void> {
    if (target.some((t) => t.collection === "*" && t.field === spec.field)) return;
    const keep = target.filter((t) => t.field === spec.field).map((t) => t.collection);
    if (spec.collection !== "*" && target.some((t) => covers(t, spec.collection, spec.field))) return;
    await this.host.query(
      `DELETE FROM ${this.host.s}.index_entries WHERE field = $1 AND ($2 = '*' OR collection = $2) AND NOT (collection = ANY($3::text[]))`,
      [spec.field, spec.collection, keep],
    );
  }

  /** Writes an entry for the latest state of every document of `spec`'s collections, a chunk at a time. */
  private async backfill(spec: IndexSpec): Promise<void> {
    const { s } = this.host;
    let from = { collection: "", documentId: "" };
    for (;;) {
      const { rows } = await this.host.query<{ collection: string; document_id: string; server_sequence: string; event: Buffer | null }>(
        `SELECT d.collection, d.document_id, d.server_sequence, CASE WHEN c.deleted THEN NULL ELSE c.event END AS event
           FROM ${s}.documents d JOIN ${s}.changes c ON c.collection = d.collection AND c.server_sequence = d.server_sequence
          WHERE ($1 = '*' OR d.collection = $1) AND (d.collection, d.document_id) > ($2, $3)
          ORDER BY d.collection, d.document_id LIMIT $4`,
        [spec.collection, from.collection, from.documentId, CHUNK],
      );
      if (rows.length === 0) return;
      const entries: Array<[string, string, string, string, string]> = [];
      for (const row of rows) {
        // Tombstones give none (read as NULL: not worth their bytes).
        if (!row.event) continue;
        const value = fieldValues(decodeEvent(row.event).document, [spec.field]).get(spec.field);
        if (value !== undefined) entries.push([row.collection, spec.field, value, row.server_sequence, row.document_id]);
      }
      if (entries.length) {
        await this.host.query(
          `INSERT INTO ${s}.index_entries (collection, field, value, sequence, document_id)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[]) ON CONFLICT DO NOTHING`,
          [0, 1, 2, 3, 4].map((i) => entries.map((e) => e[i])),
        );
      }
      if (rows.length < CHUNK) return;
      const last = rows.at(-1)!;
      from = { collection: last.collection, documentId: last.document_id };
    }
  }

  /**
   * After a purge raised the watermarks: deletes the entries at or below a
   * collection's watermark that are not at their document's latest sequence
   * (types.ts, readIndex), a window of entries per transaction. `chunk` runs
   * a step as the purge's own, undefined when another server purges.
   */
  async purgeObsolete(purgedThrough: Readonly<Record<string, bigint>>, chunk: <T>(work: (client: pg.PoolClient) => Promise<T>) => Promise<{ done: T } | undefined>): Promise<void> {
    const { s } = this.host;
    for (const [collection, watermark] of Object.entries(purgedThrough)) {
      let from = 0n;
      while (from < watermark) {
        const step = await chunk(async (client) => {
          // The window ends at the PURGE_WINDOW-th entry (all of its sequence included), or at the watermark.
          const end = await client.query<{ sequence: string }>(
            `SELECT sequence FROM ${s}.index_entries WHERE collection = $1 AND sequence > $2 AND sequence <= $3 ORDER BY sequence OFFSET $4 LIMIT 1`,
            [collection, from.toString(), watermark.toString(), PURGE_WINDOW - 1],
          );
          const to = end.rows[0] ? BigInt(end.rows[0].sequence) : watermark;
          await client.query(
            `DELETE FROM ${s}.index_entries e
              WHERE e.collection = $1 AND e.sequence > $2 AND e.sequence <= $3
                AND NOT EXISTS (SELECT 1 FROM ${s}.documents d WHERE d.collection = e.collection AND d.document_id = e.document_id AND d.server_sequence = e.sequence)`,
            [collection, from.toString(), to.toString()],
          );
          return to;
        });
        if (!step) return;
        from = step.done;
      }
    }
  }
}
