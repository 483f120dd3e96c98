// Role: the reference client as an app uses it: a local database on LevelDB
// and createSyncEngine (client/src, the Node entry), in this process. Writing
// the documents locally is not timed; the clock runs from forceSync() to its
// end, which returns once everything pending is pushed (or everything new is
// pulled).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { firstValueFrom } from "rxjs";
import { createDatabase, createSyncEngine, type Database } from "../../client/src/node.js";
import { nowMs } from "../harness/clock.js";
import { documentId, documentObject } from "../data.js";

export interface AppPlan {
  readonly url: string;
  readonly collection: string;
  readonly documents: number;
  /** Changes per push and per pull page. */
  readonly batch: number;
}

async function withDatabase<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "pocket-bench-client-"));
  const db = await createDatabase({ name: join(dir, "db"), storage: "level" });
  try {
    return await fn(db);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const handlers = {
  push(plan: AppPlan): Promise<{ ms: number }> {
    return withDatabase(async (db) => {
      const collection = db.collection(plan.collection);
      for (let n = 0; n < plan.documents; n++) await collection.insert({ _id: documentId("a", n), ...documentObject(n) });
      const engine = createSyncEngine(db, { serverUrl: plan.url, collections: [plan.collection], direction: "push", batchSize: plan.batch });
      try {
        const start = nowMs();
        await engine.forceSync();
        const ms = nowMs() - start;
        const { pushCount } = await firstValueFrom(engine.getStats());
        if (pushCount !== plan.documents) throw new Error(`client library pushed ${pushCount} of ${plan.documents}`);
        return { ms };
      } finally {
        engine.destroy();
      }
    });
  },

  pull(plan: AppPlan): Promise<{ ms: number }> {
    return withDatabase(async (db) => {
      const engine = createSyncEngine(db, {
        serverUrl: plan.url,
        collections: [plan.collection],
        direction: "pull",
        useWebSocket: false,
        batchSize: plan.batch,
      });
      try {
        const start = nowMs();
        await engine.forceSync();
        const ms = nowMs() - start;
        const { pullCount } = await firstValueFrom(engine.getStats());
        const stored = (await db.collection(plan.collection).find().exec()).length;
        if (pullCount !== plan.documents || stored !== plan.documents) {
          throw new Error(`client library pulled ${pullCount} and stored ${stored} of ${plan.documents}`);
        }
        return { ms };
      } finally {
        engine.destroy();
      }
    });
  },
};
