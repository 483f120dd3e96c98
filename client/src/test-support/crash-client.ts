// Test support (not part of the client's API): a client process that syncs a
// LevelDB database and kills itself (SIGKILL, as a crash) just before the
// n-th write of a given kind reaches the disk, so the crash tests can restart
// it on the same directory and check what survived.
//
//   node --import tsx crash-client.ts <dir> <serverUrl> <collection> <mode> [crashAt]
//
// mode "insert-push": inserts DOCS documents, then pushes, crashing before the
//   crashAt-th acknowledgement write (the server has committed that push).
// mode "pull": pulls, crashing before the crashAt-th page write.
// mode "finish": syncs what is left with forceSync and prints a summary.
import { join } from "node:path";
import { createDatabase, createSyncEngine, type LevelLike } from "../node.js";

const [dir, serverUrl, collection, mode, crashAtText] = process.argv.slice(2);
if (!dir || !serverUrl || !collection || !mode) throw new Error("usage: crash-client.ts <dir> <serverUrl> <collection> <mode> [crashAt]");
const DOCS = Number(process.env.DOCS ?? 1000);
const crashAt = Number(crashAtText ?? 0);

const { Level } = await import("level");
const level = new Level<string, string>(join(dir, "db")) as unknown as LevelLike;
type Op = Parameters<LevelLike["batch"]>[0][number];
const isAcknowledgement = (ops: Op[]) => ops.some((o) => o.type === "del" && o.key.startsWith("o/")) && !ops.some((o) => o.type === "put" && o.key.startsWith("o/"));
const isPulledPage = (ops: Op[]) => ops.some((o) => o.key === "m/checkpoint");
let seen = 0;
const storage: LevelLike = {
  open: () => level.open(),
  close: () => level.close(),
  get: (k) => level.get(k),
  getMany: (keys) => level.getMany!(keys),
  put: (k, v) => level.put(k, v),
  iterator: (o) => level.iterator(o),
  batch(ops) {
    const counted = mode === "insert-push" ? isAcknowledgement(ops) : mode === "pull" ? isPulledPage(ops) : false;
    if (counted && ++seen === crashAt) {
      process.stdout.write(`crashing before write ${seen}\n`);
      process.kill(process.pid, "SIGKILL");
      return new Promise(() => undefined);
    }
    return level.batch(ops);
  },
};

const db = await createDatabase({ name: join(dir, "db"), storage });
const docs = db.collection(collection);
if (mode === "insert-push") {
  for (let i = 0; i < DOCS; i++) await docs.insert({ _id: `d${i}`, n: i });
}
const engine = createSyncEngine(db, {
  serverUrl,
  collections: [collection],
  direction: mode === "insert-push" ? "push" : mode === "pull" ? "pull" : "both",
  useWebSocket: false,
  batchSize: 100,
});
await engine.forceSync();
const all = await docs.find();
process.stdout.write(
  `${JSON.stringify({
    pending: await db.syncStore.pendingCount([collection]),
    revisions: Object.fromEntries(all.map((d) => [d._id, d._rev])),
  })}\n`,
);
engine.destroy();
await db.close();
