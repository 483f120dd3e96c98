// The local database: collections of JSON documents on any abstract-level
// store (LevelDB in Node, IndexedDB in browsers, memory), with a change feed
// (./change-feed.ts), live queries (./query.ts) and, when sync is on, an
// outbox (./outbox.ts) written in the same batch as every local write
// (./local-write.ts). It implements the engine's SyncStore (../store.ts) in
// ./sync-store.ts. This file opens it and holds its public API.
import type { Observable } from "rxjs";
import { HybridLogicalClock, type JsonObject } from "../../../common/src/index.js";
import type { SyncStore } from "../store.js";
import { ChangeFeed } from "./change-feed.js";
import { Collection } from "./collection.js";
import { DbCore } from "./core.js";
import { checkCollectionName, randomHex } from "./documents.js";
import { holdExclusively } from "./lock.js";
import { Outbox } from "./outbox.js";
import { META, decodeTs } from "./records.js";
import { openStorage, type LevelLike, type StorageOption } from "./storage.js";
import { createSyncStore } from "./sync-store.js";
import type { ChangeEvent } from "./types.js";

export { Collection } from "./collection.js";
export { Query } from "./query.js";

export interface DatabaseOptions {
  /** The database name: a directory (LevelDB) or an IndexedDB name (browsers). */
  readonly name: string;
  /** "level" (default: LevelDB in Node, IndexedDB in browsers), "memory", or an open-able abstract-level instance. */
  readonly storage?: StorageOption;
  /**
   * Sync on (default): every local write also goes to the outbox and deletes are
   * soft (a tombstone is kept until the server has it). Off: no outbox, deletes
   * remove the document.
   */
  readonly sync?: boolean;
  /** Wall clock for the hybrid logical clock (tests). */
  readonly wallClock?: () => number;
}

export async function createDatabase(options: DatabaseOptions): Promise<Database> {
  const storage = options.storage ?? "level";
  const release = storage === "level" ? await holdExclusively(options.name) : undefined;
  const level = openStorage(options.name, storage);
  try {
    await level.open();
  } catch (error) {
    release?.();
    throw error;
  }
  const read = async (key: string) => (await level.get(key)) ?? undefined;
  let clientId = await read(META.clientId);
  if (clientId === undefined) {
    clientId = randomHex(16);
    await level.put(META.clientId, clientId);
  }
  const hlcText = await read(META.hlc);
  const hlc = new HybridLogicalClock(options.wallClock ?? Date.now, hlcText ? decodeTs(JSON.parse(hlcText) as [string, number]) : undefined);
  const clientSeq = BigInt((await read(META.clientSeq)) ?? "0");
  const changeSeq = Number((await read(META.changeSeq)) ?? "0");
  return new Database(options, level, clientId, hlc, clientSeq, changeSeq, release);
}

export class Database {
  readonly name: string;
  readonly syncEnabled: boolean;
  /** The engine-facing side of the database (see ../store.ts). */
  readonly syncStore: SyncStore;
  /** @internal The state the collections and the sync store share. */
  readonly core: DbCore;
  private readonly collections = new Map<string, Collection>();
  private closed = false;

  /** @internal Use createDatabase. */
  constructor(
    options: DatabaseOptions,
    level: LevelLike,
    readonly clientId: string,
    hlc: HybridLogicalClock,
    clientSeq: bigint,
    changeSeq: number,
    private readonly releaseLock: (() => void) | undefined = undefined,
  ) {
    this.name = options.name;
    this.syncEnabled = options.sync ?? true;
    this.core = new DbCore(this.name, level, clientId, hlc, this.syncEnabled, new ChangeFeed(changeSeq, hlc), new Outbox(clientSeq));
    this.syncStore = createSyncStore(this.core);
  }

  collection<T extends object = JsonObject>(name: string): Collection<T> {
    checkCollectionName(name);
    let c = this.collections.get(name);
    if (!c) {
      c = new Collection(this, name);
      this.collections.set(name, c);
    }
    return c as unknown as Collection<T>;
  }

  /** Every change to every collection, local and remote. */
  changes(): Observable<ChangeEvent> {
    return this.core.feed.observe();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.core.close();
    this.releaseLock?.();
  }
}
