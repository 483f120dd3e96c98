// The test page's harness, run in the browser (bundled by ./bundle.ts, which
// points the import below at the separately bundled pocket-client.js). It uses
// only the client's public browser API and exposes a small surface on
// `window.pocket` for the test to drive through page.evaluate.
import { createDatabase, createSyncEngine, type Database, type SyncEngine } from "../src/index.js";

export interface TodoFields {
  title: string;
  done: boolean;
}

export interface StoredTodo extends TodoFields {
  _id: string;
  _rev: string;
}

export interface OpenOptions {
  /** The database name; storage is always "level" (IndexedDB in a browser). */
  readonly name: string;
  readonly collection: string;
  /** Omit to open the database without syncing (to read what IndexedDB kept). */
  readonly sync?: { readonly serverUrl: string; readonly transport: "connect" | "grpc-web" };
}

export interface PocketPage {
  open(options: OpenOptions): Promise<void>;
  insert(todo: TodoFields & { _id: string }): Promise<void>;
  update(id: string, fields: Partial<TodoFields>): Promise<void>;
  /** Every document in the collection, read from storage. */
  all(): Promise<StoredTodo[]>;
  /** The latest result of the live query `find({}, { sort: title })`, as titles. */
  live(): string[];
  /** How many times the live query has emitted. */
  liveEmissions(): number;
  pendingCount(): Promise<number>;
  status(): string;
  /** Sync errors seen so far, as "kind: message". */
  errors(): string[];
  /** Tries to open the open database a second time: the error message, or "opened". */
  openAgain(): Promise<string>;
  /** The names of this origin's IndexedDB databases. */
  indexedDbNames(): Promise<string[]>;
  close(): Promise<void>;
}

declare global {
  interface Window {
    pocket?: PocketPage;
  }
}

let db: Database | undefined;
let engine: SyncEngine | undefined;
let collection = "";
let live: string[] = [];
let emissions = 0;
let status = "none";
const errors: string[] = [];
const unsubscribe: Array<() => void> = [];

function open(): Database {
  if (!db) throw new Error("call pocket.open first");
  return db;
}

const pocket: PocketPage = {
  async open(options) {
    if (db) throw new Error("already open");
    collection = options.collection;
    db = await createDatabase({ name: options.name, storage: "level" });
    const todos = db.collection<TodoFields>(collection);
    const sub = todos.find({}, { sort: { field: "title" } }).$.subscribe((docs) => {
      live = docs.map((d) => d.title);
      emissions++;
    });
    unsubscribe.push(() => sub.unsubscribe());
    if (options.sync) {
      engine = createSyncEngine(db, {
        serverUrl: options.sync.serverUrl,
        collections: [collection],
        transport: options.sync.transport,
        retryDelay: 50,
        maxRetryDelay: 500,
        heartbeatInterval: 2000,
      });
      const s1 = engine.getStatus().subscribe((s) => (status = s));
      const s2 = engine.errors$.subscribe((e) => errors.push(`${e.kind}: ${e.error.message}`));
      unsubscribe.push(() => s1.unsubscribe(), () => s2.unsubscribe());
      await engine.start();
    }
  },
  async insert(todo) {
    await open().collection<TodoFields>(collection).insert(todo);
  },
  async update(id, fields) {
    await open().collection<TodoFields>(collection).update(id, fields);
  },
  async all() {
    const docs = await open().collection<TodoFields>(collection).find({}, { sort: { field: "title" } });
    return docs.map((d) => ({ _id: d._id, _rev: d._rev, title: d.title, done: d.done }));
  },
  live: () => live,
  liveEmissions: () => emissions,
  pendingCount: () => open().syncStore.pendingCount([collection]),
  status: () => status,
  errors: () => errors.slice(),
  async openAgain() {
    try {
      const second = await createDatabase({ name: open().name, storage: "level" });
      await second.close();
      return "opened";
    } catch (error) {
      return (error as Error).message;
    }
  },
  async indexedDbNames() {
    return (await indexedDB.databases()).map((d) => d.name ?? "");
  },
  async close() {
    for (const u of unsubscribe.splice(0)) u();
    if (engine) {
      await engine.stop();
      engine.destroy();
      engine = undefined;
    }
    await db?.close();
    db = undefined;
  },
};

window.pocket = pocket;
document.body.dataset.ready = "true";
