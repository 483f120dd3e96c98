// Documents of one collection: local writes (each with its outbox entry),
// reads, queries, and its part of the change feed.
import type { Observable } from "rxjs";
import { filter as rxFilter } from "rxjs";
import { RESERVED_KEYS, type JsonObject, type Timestamp } from "../../../common/src/index.js";
import type { Database } from "./database.js";
import { checkId, cleanDocument, randomHex } from "./documents.js";
import { writeLocal } from "./local-write.js";
import { Query, runQuery } from "./query.js";
import { toDoc } from "./records.js";
import type { ChangeEvent, ChangeOperation, Doc, Filter, FindOptions, NewDoc } from "./types.js";

/** Documents of one collection. */
export class Collection<T extends object = JsonObject> {
  constructor(
    private readonly db: Database,
    readonly name: string,
  ) {}

  /** Inserts a document (a random `_id` unless given) and returns it as stored. */
  async insert(document: NewDoc<T>): Promise<Doc<T>> {
    const id = checkId(document._id ?? randomHex(12));
    const fields = cleanDocument(document, "document");
    const core = this.db.core;
    return core.serial(async () => {
      const { after } = await writeLocal(core, this.name, id, fields, "insert");
      return toDoc<T>(id, after ?? { doc: fields, rev: "", ts: ["0", 0], by: "", base: "" })!;
    });
  }

  /** Merges `changes` into the top-level fields (a field set to undefined is removed). Returns null if there is no such document. */
  async update(id: string, changes: Partial<T>): Promise<Doc<T> | null> {
    checkId(id);
    const patch = { ...(changes as object) } as Record<string, unknown>;
    const core = this.db.core;
    return core.serial(async () => {
      const current = await core.record(this.name, id);
      if (!current || current.doc === null) return null;
      const merged: Record<string, unknown> = { ...current.doc };
      for (const [k, v] of Object.entries(patch)) {
        if (RESERVED_KEYS.has(k)) continue;
        if (v === undefined) delete merged[k];
        else merged[k] = v;
      }
      const { after } = await writeLocal(core, this.name, id, cleanDocument(merged, "document"), "update");
      return after ? toDoc<T>(id, after) : null;
    });
  }

  /** Deletes a document: a tombstone with sync on, a removal without. Returns false if there was none. */
  async delete(id: string): Promise<boolean> {
    checkId(id);
    const core = this.db.core;
    return core.serial(async () => {
      const { before } = await writeLocal(core, this.name, id, null, "delete");
      return before !== undefined && before.doc !== null;
    });
  }

  async get(id: string): Promise<Doc<T> | null> {
    const record = await this.db.core.record(this.name, id);
    return record ? toDoc<T>(id, record) : null;
  }

  /** A query: await it (or call exec) for the documents, or subscribe to `$` for live results. */
  find(filter: Filter = {}, options: FindOptions = {}): Query<T> {
    return new Query(this, filter, options);
  }

  /** Live results of `find(filter, options)`: emits now and whenever the results change. */
  observe(filter: Filter = {}, options: FindOptions = {}): Observable<Doc<T>[]> {
    return this.find(filter, options).$;
  }

  /**
   * Applies a change that came from the server (the seed's applyRemoteChange):
   * stored, emitted with isFromSync: true, seen by live queries, never pushed
   * back. A document with a pending local change keeps its local state (§9.5).
   * The sync engine applies whole batches through `db.syncStore` instead.
   */
  applyRemoteChange(change: {
    readonly operation: ChangeOperation;
    readonly documentId: string;
    readonly document?: object | null;
    readonly revision: string;
    readonly serverSequence: bigint;
    readonly timestamp?: Timestamp;
    readonly clientId?: string;
  }): Promise<void> {
    const document = change.operation === "delete" || change.document == null ? null : cleanDocument(change.document, "document");
    return this.db.syncStore.applyRemoteChanges(
      [
        {
          collection: this.name,
          documentId: checkId(change.documentId),
          document,
          revision: change.revision,
          serverSequence: change.serverSequence,
          timestamp: change.timestamp ?? { wallTimeMs: BigInt(Date.now()), logical: 0 },
          clientId: change.clientId ?? "",
        },
      ],
      undefined,
    );
  }

  /** Changes to this collection. */
  changes(): Observable<ChangeEvent<T>> {
    return this.db.changes().pipe(rxFilter((e) => e.collection === this.name)) as unknown as Observable<ChangeEvent<T>>;
  }

  /** @internal */ run(filter: Filter, options: FindOptions): Promise<Doc<T>[]> {
    return runQuery<T>(this.db.core.records(this.name), filter, options);
  }
}
