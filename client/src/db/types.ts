// Public types of the local database.
import type { JsonObject, JsonValue } from "../../../common/src/index.js";

/** A stored document: the application's fields plus the reserved metadata keys. */
export type Doc<T extends object = JsonObject> = T & {
  readonly _id: string;
  /** The document's revision: the server's once synced, a local one ("local-N") before. */
  readonly _rev: string;
  /** Present (true) only on tombstones, as carried by delete change events. */
  readonly _deleted?: true;
};

/** What `insert` takes: the fields, optionally with a chosen `_id`. */
export type NewDoc<T extends object = JsonObject> = T & { readonly _id?: string };

export type ChangeOperation = "insert" | "update" | "delete";

/** One change to one document, as the seed's change feed describes it. */
export interface ChangeEvent<T extends object = JsonObject> {
  readonly collection: string;
  readonly operation: ChangeOperation;
  readonly documentId: string;
  /** The state after the change (a tombstone `{_id, _rev, _deleted: true}` for deletes). */
  readonly document: Doc<T> | null;
  /** The state before the change; null when there was none. */
  readonly previousDocument: Doc<T> | null;
  /** Wall time of the change in ms (its hybrid logical clock's wall time). */
  readonly timestamp: number;
  /** The local database's change sequence: increases by one per event. */
  readonly sequence: number;
  /** True when the change came from the server (never pushed back). */
  readonly isFromSync: boolean;
}

/** Equality filter on top-level fields (and `_id`): every listed field must equal its value. */
export type Filter = Readonly<Record<string, JsonValue>>;

export interface FindOptions {
  /** Sort by a top-level field; documents without it sort first. */
  readonly sort?: { readonly field: string; readonly direction?: "asc" | "desc" } | undefined;
  readonly skip?: number | undefined;
  readonly limit?: number | undefined;
}
