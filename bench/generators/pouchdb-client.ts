// Role: PouchDB (leveldb adapter) as an app uses it: documents written to a
// local database (not timed), then one replication to or from the
// express-pouchdb server, timed from start to its end.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPouchDB, type PouchDatabase } from "../baselines/pouchdb.js";
import { nowMs } from "../harness/clock.js";
import { documentId, documentObject } from "../data.js";

export interface PouchPlan {
  /** The remote database's URL (created by the first replication to it). */
  readonly remote: string;
  readonly documents: number;
  readonly batch: number;
}

async function withLocal<T>(fn: (db: PouchDatabase) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "pocket-bench-pouch-"));
  const PouchDB = loadPouchDB();
  const db = new PouchDB(join(dir, "local"));
  try {
    return await fn(db);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const handlers = {
  push(plan: PouchPlan): Promise<{ ms: number }> {
    return withLocal(async (db) => {
      for (let from = 0; from < plan.documents; from += 1000) {
        const docs = [];
        for (let n = from; n < Math.min(plan.documents, from + 1000); n++) docs.push({ _id: documentId("a", n), ...documentObject(n) });
        await db.bulkDocs(docs);
      }
      const start = nowMs();
      const result = await db.replicate.to(plan.remote, { batch_size: plan.batch });
      const ms = nowMs() - start;
      if (!result.ok || result.docs_written !== plan.documents) throw new Error(`PouchDB pushed ${result.docs_written} of ${plan.documents}`);
      return { ms };
    });
  },

  pull(plan: PouchPlan): Promise<{ ms: number }> {
    return withLocal(async (db) => {
      const start = nowMs();
      const result = await db.replicate.from(plan.remote, { batch_size: plan.batch });
      const ms = nowMs() - start;
      const { doc_count } = await db.info();
      if (!result.ok || result.docs_written !== plan.documents || doc_count !== plan.documents) {
        throw new Error(`PouchDB pulled ${result.docs_written} (${doc_count} stored) of ${plan.documents}`);
      }
      return { ms };
    });
  },
};
