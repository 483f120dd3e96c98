// Queries: equality filters, sort, skip and limit over one collection, awaited
// once or followed live.
import { Observable } from "rxjs";
import { jsonEqual, type JsonObject, type JsonValue } from "../../../common/src/index.js";
import type { Collection } from "./collection.js";
import { toDoc, type DocRecord } from "./records.js";
import type { Doc, Filter, FindOptions } from "./types.js";

/** The live documents of `records` that match `filter`, sorted and paged by `options`. */
export async function runQuery<T extends object>(records: AsyncIterable<[string, DocRecord]>, filter: Filter, options: FindOptions): Promise<Doc<T>[]> {
  const out: Doc<T>[] = [];
  const entries = Object.entries(filter);
  for await (const [id, record] of records) {
    const doc = toDoc<T>(id, record);
    if (doc === null) continue;
    const fields = doc as unknown as Record<string, JsonValue>;
    if (entries.every(([k, v]) => jsonEqual(fields[k], v))) out.push(doc);
  }
  const { sort } = options;
  if (sort) {
    const dir = sort.direction === "desc" ? -1 : 1;
    out.sort((a, b) => dir * compareValues((a as Record<string, unknown>)[sort.field], (b as Record<string, unknown>)[sort.field]));
  }
  const skip = options.skip ?? 0;
  return out.slice(skip, options.limit === undefined ? undefined : skip + options.limit);
}

function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === undefined || a === null) return -1;
  if (b === undefined || b === null) return 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  const sa = typeof a === "string" ? a : JSON.stringify(a);
  const sb = typeof b === "string" ? b : JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

export class Query<T extends object = JsonObject> implements PromiseLike<Doc<T>[]> {
  constructor(
    private readonly collection: Collection<T>,
    private readonly filter: Filter,
    private readonly options: FindOptions,
  ) {}

  exec(): Promise<Doc<T>[]> {
    return this.collection.run(this.filter, this.options);
  }

  then<A = Doc<T>[], B = never>(
    onfulfilled?: ((value: Doc<T>[]) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): PromiseLike<A | B> {
    return this.exec().then(onfulfilled, onrejected);
  }

  /**
   * Live results: emits the current results at once, then again after every
   * change to the collection that changes them (compared by value, `_rev` included).
   */
  get $(): Observable<Doc<T>[]> {
    return new Observable<Doc<T>[]>((subscriber) => {
      let last: Doc<T>[] | undefined;
      let running = false;
      let dirty = false;
      let done = false;
      const refresh = async () => {
        if (running) {
          dirty = true;
          return;
        }
        running = true;
        try {
          do {
            dirty = false;
            const results = await this.exec();
            if (done) return;
            if (last === undefined || !jsonEqual(last as unknown as JsonValue, results as unknown as JsonValue)) {
              last = results;
              subscriber.next(results);
            }
          } while (dirty && !done);
        } catch (e) {
          if (!done) subscriber.error(e);
        } finally {
          running = false;
        }
      };
      const sub = this.collection.changes().subscribe({ next: () => void refresh(), complete: () => subscriber.complete() });
      void refresh();
      return () => {
        done = true;
        sub.unsubscribe();
      };
    });
  }
}
