// App-level sync of 10,000 documents: the reference client library
// (createSyncEngine on LevelDB) against PouchDB replicating with
// express-pouchdb (leveldb on both sides), and against the wire-level calls
// that do the same work (the same batches over the same transport), which is
// the floor for any client library on this server.
import { startWorker, stopAll, type Worker } from "../harness/processes.js";
import { ensurePeers } from "../harness/peers.js";
import { interleave } from "../harness/rounds.js";
import { atLeast, atMost, figure, ratio } from "./metrics.js";
import type { Metric, Workload } from "./types.js";

interface Timing {
  readonly pushMs: number;
  readonly pullMs: number;
}

export const appLevel: Workload = {
  id: "app-level",
  title: "App-level push and pull",
  async run(context) {
    const { documents, batch } = context.config.app;
    ensurePeers(context.log);
    const [server, couch, app, pouch, wire] = await Promise.all([
      context.startServer({ label: "app-level" }),
      startWorker("baselines/pouchdb-server.ts", "express-pouchdb"),
      startWorker("generators/app-client.ts", "client library"),
      startWorker("generators/pouchdb-client.ts", "PouchDB client"),
      startWorker("generators/wire.ts", "wire client"),
    ]);
    const workers: Worker[] = [couch, app, pouch, wire];
    let rounds: Record<string, Timing[]>;
    try {
      const couchUrl = await couch.call<string>("start");
      // The engine's default transport: Connect, binary, HTTP/1.1.
      await wire.call("connect", server.url, "1.1");
      const work = { documents, batch };
      rounds = await interleave<Timing>(
        context.config,
        {
          "client library": async ({ index }) => {
            const plan = { ...work, url: server.url, collection: `app${index}` };
            const pushed = await app.call<{ ms: number }>("push", plan);
            const pulled = await app.call<{ ms: number }>("pull", plan);
            return { pushMs: pushed.ms, pullMs: pulled.ms };
          },
          PouchDB: async ({ index }) => {
            const plan = { ...work, remote: `${couchUrl}/bench-${index}` };
            const pushed = await pouch.call<{ ms: number }>("push", plan);
            const pulled = await pouch.call<{ ms: number }>("pull", plan);
            return { pushMs: pushed.ms, pullMs: pulled.ms };
          },
          wire: async ({ index }) => {
            const collection = `wire${index}`;
            const pushed = await wire.call<{ ms: number; accepted: number }>("push", {
              collection, clientId: `wire-${index}`, idPrefix: "a", from: 0, count: documents, batch,
            });
            if (pushed.accepted !== documents) throw new Error(`wire push: ${pushed.accepted} of ${documents}`);
            const pulled = await wire.call<{ ms: number; changes: number }>("pull", { collections: [collection], limit: batch });
            if (pulled.changes !== documents) throw new Error(`wire pull: ${pulled.changes} of ${documents}`);
            return { pushMs: pushed.ms, pullMs: pulled.ms };
          },
        },
        (line) => context.log(`app-level: ${line}`),
      );
    } finally {
      await stopAll(workers);
      await context.stopServer(server);
    }
    const rate = (ms: number) => (documents * 1000) / ms;
    const metrics: Metric[] = [];
    for (const direction of ["push", "pull"] as const) {
      const key = direction === "push" ? "pushMs" : "pullMs";
      const lib = figure(`client library ${direction}`, "documents/s", rounds["client library"]!.map((t) => rate(t[key])));
      const pouch = figure(`PouchDB replication ${direction === "push" ? "to" : "from"} express-pouchdb`, "documents/s", rounds.PouchDB!.map((t) => rate(t[key])));
      const vsPouch = ratio(lib, pouch, "client library / PouchDB");
      metrics.push({ id: `app.${direction}`, label: `app-level ${direction} of ${documents} documents vs PouchDB`, subject: lib, baseline: pouch, ratio: vsPouch, target: atLeast(vsPouch, 10, "≥ 10× PouchDB") });
      const libTime = figure(`client library ${direction} time`, "ms", rounds["client library"]!.map((t) => t[key]));
      const wireTime = figure(`wire-level ${direction} time (same batches)`, "ms", rounds.wire!.map((t) => t[key]));
      const overWire = ratio(libTime, wireTime, "client library time / wire time");
      metrics.push({ id: `app.${direction}.wire`, label: `app-level ${direction} time vs the wire-level time`, subject: libTime, baseline: wireTime, ratio: overWire, target: atMost(overWire, 1.5, "≤ 1.5× the wire time") });
    }
    return {
      id: "app-level",
      title: "App-level push and pull",
      method:
        `Each round, in separate processes: the client library writes ${documents} 150-byte documents to a fresh local LevelDB database ` +
        `(not timed), then forceSync() pushes them (timed); a second fresh database pulls them (timed, until stored). PouchDB does the ` +
        `same with bulkDocs (not timed) and one replication to, then from, express-pouchdb. The wire level pushes and pulls the same ` +
        `documents with bare Connect calls. All use batches of ${batch} and Connect's binary codec over HTTP/1.1 (the engine's default transport).`,
      metrics,
      context: { documents, "batch size (engine batchSize, PouchDB batch_size, wire)": batch },
      profiles: context.takeProfiles(),
    };
  },
};
