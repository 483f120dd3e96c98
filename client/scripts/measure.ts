// What the client library adds over the wire (issue 8, item 4): push and pull
// of N documents through createSyncEngine, timed against the same work done
// with the raw generated client, against the real server CLI in its own
// process (fresh data directory each round). A tool for profiling the client,
// not the benchmark report (that is `npm run bench`).
//
//   npx tsx client/scripts/measure.ts [--docs 10000] [--rounds 5] [--batch 100] [--only push|pull]
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx client/scripts/measure.ts --rounds 1 --only pull
//
// push: N documents inserted into a LevelDB database (not timed), then timed
//   until forceSync() has emptied the outbox; raw: N changes in Push calls of
//   `batch` changes, one call at a time.
// pull: a fresh LevelDB database pulls N documents with forceSync() (Pull pages
//   of `batch`) and with the live stream (Subscribe catch-up); raw: Pull pages
//   of `batch`, and Subscribe until caught up, bytes received and decoded only.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { ChangeEventSchema, CheckpointSchema, Operation, SyncService, type ChangeEvent } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createDatabase, createNodeTransport, createSyncEngine, type Database, type SyncEngineConfig, type SyncStore } from "../src/node.js";
import { startServer, waitFor, type ServerProcess } from "../src/test-support/server-process.js";

const { values } = parseArgs({
  options: {
    docs: { type: "string", default: "10000" },
    rounds: { type: "string", default: "5" },
    batch: { type: "string", default: "100" },
    only: { type: "string" },
    // Time spent in each SyncStore method during the app runs (the rest is the network and the engine).
    breakdown: { type: "boolean", default: false },
    // Write a CPU profile of each timed app run into this directory.
    profile: { type: "string" },
  },
});
const DOCS = Number(values.docs);
const ROUNDS = Number(values.rounds);
const BATCH = Number(values.batch);
const only = values.only;

/** About 150 bytes of JSON, as in the measurements. */
const documentOf = (i: number) => ({ title: `todo number ${i}`, done: i % 2 === 0, rank: i, tags: ["home", "errand"], note: "x".repeat(70) });

const tempDirs: string[] = [];
async function freshDatabase(): Promise<Database> {
  const dir = mkdtempSync(join(tmpdir(), "pocket-measure-"));
  tempDirs.push(dir);
  return createDatabase({ name: join(dir, "db"), storage: "level" });
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const storeTimes = new Map<string, { calls: number; ms: number }>();

/** The database's SyncStore, timing each method when --breakdown is on. */
function storeOf(db: Database): SyncStore {
  if (!values.breakdown) return db.syncStore;
  const store = db.syncStore as unknown as Record<string, unknown>;
  const timedStore: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(store)) {
    if (typeof member !== "function") {
      timedStore[name] = member;
      continue;
    }
    timedStore[name] = async (...args: unknown[]) => {
      const start = performance.now();
      try {
        return await (member as (...a: unknown[]) => Promise<unknown>)(...args);
      } finally {
        const t = storeTimes.get(name) ?? { calls: 0, ms: 0 };
        t.calls++;
        t.ms += performance.now() - start;
        storeTimes.set(name, t);
      }
    };
  }
  return timedStore as unknown as SyncStore;
}

function engineFor(db: Database, url: string, config: Partial<SyncEngineConfig>) {
  return createSyncEngine(storeOf(db), { serverUrl: url, collections: ["app"], batchSize: BATCH, ...config });
}

let profiles = 0;
/** Runs `fn`, under the CPU profiler when --profile is given. */
async function profiled(name: string, fn: () => Promise<void>): Promise<void> {
  if (!values.profile) return fn();
  const { Session } = await import("node:inspector/promises");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  try {
    await fn();
  } finally {
    const { profile } = await session.post("Profiler.stop");
    mkdirSync(values.profile, { recursive: true });
    writeFileSync(join(values.profile, `${++profiles}-${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

async function rawPush(url: string, n: number): Promise<number> {
  const client = createClient(SyncService, createNodeTransport("connect", url));
  const clientId = `raw-${Math.random().toString(16).slice(2)}`;
  return timed(async () => {
    for (let from = 0; from < n; from += BATCH) {
      const changes: ChangeEvent[] = [];
      for (let i = from; i < Math.min(n, from + BATCH); i++) {
        changes.push(create(ChangeEventSchema, {
          operation: Operation.INSERT,
          collection: "raw",
          documentId: `d${i}`,
          document: JSON.stringify(documentOf(i)),
          clientSequence: BigInt(i + 1),
          timestamp: { wallTimeMs: BigInt(Date.now()), logical: 0 },
        }));
      }
      await client.push({ clientId, changes });
    }
  });
}

async function appPush(url: string, n: number): Promise<number> {
  const db = await freshDatabase();
  const app = db.collection("app");
  for (let i = 0; i < n; i++) await app.insert({ _id: `d${i}`, ...documentOf(i) });
  const engine = engineFor(db, url, { direction: "push" });
  const ms = await timed(() => profiled("push", () => engine.forceSync()));
  if ((await db.syncStore.pendingCount(["app"])) !== 0) throw new Error("outbox not empty after push");
  engine.destroy();
  await db.close();
  return ms;
}

async function rawPull(url: string, n: number): Promise<number> {
  const client = createClient(SyncService, createNodeTransport("connect", url));
  let received = 0;
  const ms = await timed(async () => {
    let checkpoint = create(CheckpointSchema);
    for (;;) {
      const res = await client.pull({ collections: ["app"], checkpoint, limit: BATCH });
      received += res.changes.length;
      checkpoint = res.checkpoint ?? checkpoint;
      if (!res.hasMore) break;
    }
  });
  if (received !== n) throw new Error(`raw pull received ${received} of ${n}`);
  return ms;
}

async function rawSubscribe(url: string, n: number): Promise<number> {
  const client = createClient(SyncService, createNodeTransport("connect", url));
  const abort = new AbortController();
  let received = 0;
  const ms = await timed(async () => {
    const stream = client.subscribe({ collections: ["app"], checkpoint: create(CheckpointSchema) }, { signal: abort.signal });
    for await (const message of stream) {
      if (message.event.case !== "changes") continue;
      received += message.event.value.changes.length;
      if (message.event.value.caughtUp) break;
    }
  });
  abort.abort();
  if (received !== n) throw new Error(`raw subscribe received ${received} of ${n}`);
  return ms;
}

async function appPull(url: string, n: number, mode: "poll" | "stream"): Promise<number> {
  const db = await freshDatabase();
  const engine = engineFor(db, url, { direction: "pull", useWebSocket: mode === "stream" });
  let pulled = 0;
  let idle = false;
  engine.getStats().subscribe((s) => (pulled = s.pullCount));
  engine.getStatus().subscribe((s) => (idle = s === "idle"));
  const ms = await timed(() =>
    profiled(`pull-${mode}`, async () => {
      if (mode === "poll") await engine.forceSync();
      else {
        await engine.start();
        await waitFor(() => pulled >= n && idle, "stream catch-up", 120_000);
      }
    }),
  );
  await engine.stop();
  engine.destroy();
  const count = (await db.collection("app").find()).length;
  if (count !== n) throw new Error(`app pull stored ${count} of ${n}`);
  await db.close();
  return ms;
}

type Measure = "raw push" | "app push" | "raw pull" | "app pull (forceSync)" | "raw subscribe" | "app pull (stream)";
const results = new Map<Measure, number[]>();

async function round(server: ServerProcess, n: number, appFirst: boolean, record: boolean): Promise<void> {
  const note = (m: Measure, ms: number) => {
    if (record) results.set(m, [...(results.get(m) ?? []), ms]);
  };
  const pair = async (a: () => Promise<void>, b: () => Promise<void>) => {
    if (appFirst) {
      await b();
      await a();
    } else {
      await a();
      await b();
    }
  };
  // The app's pushed documents are what both pulls read, so push always runs.
  await pair(
    async () => note("raw push", await rawPush(server.url, n)),
    async () => note("app push", await appPush(server.url, n)),
  );
  if (only === "push") return;
  await pair(
    async () => note("raw pull", await rawPull(server.url, n)),
    async () => note("app pull (forceSync)", await appPull(server.url, n, "poll")),
  );
  await pair(
    async () => note("raw subscribe", await rawSubscribe(server.url, n)),
    async () => note("app pull (stream)", await appPull(server.url, n, "stream")),
  );
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function main() {
  for (let r = -1; r < ROUNDS; r++) {
    const server = await startServer();
    try {
      // Round -1 is a discarded warm-up at a tenth of the size.
      await round(server, r < 0 ? Math.max(BATCH, Math.floor(DOCS / 10)) : DOCS, r % 2 === 1, r >= 0);
    } finally {
      await server.stop();
    }
    if (r >= 0) process.stderr.write(`round ${r + 1}/${ROUNDS} done\n`);
  }
  const row = (m: Measure) => {
    const xs = results.get(m);
    return xs ? `${m.padEnd(22)} median ${median(xs).toFixed(0).padStart(6)} ms  (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})` : "";
  };
  const ratio = (a: Measure, b: Measure) => {
    const x = results.get(a);
    const y = results.get(b);
    return x && y ? `  ${a} / ${b}: ${(median(x) / median(y)).toFixed(2)}x` : "";
  };
  console.log(`${DOCS} documents, batch ${BATCH}, ${ROUNDS} rounds (medians); load average ${(await import("node:os")).loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  for (const line of [
    row("raw push"),
    row("app push"),
    ratio("app push", "raw push"),
    row("raw pull"),
    row("app pull (forceSync)"),
    ratio("app pull (forceSync)", "raw pull"),
    row("raw subscribe"),
    row("app pull (stream)"),
    ratio("app pull (stream)", "raw subscribe"),
  ])
    if (line) console.log(line);
  if (values.breakdown) {
    console.log("SyncStore time over all app runs, warm-up included:");
    for (const [name, t] of storeTimes) console.log(`  ${name.padEnd(20)} ${String(t.calls).padStart(7)} calls ${t.ms.toFixed(0).padStart(7)} ms`);
  }
}

try {
  await main();
} finally {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}
