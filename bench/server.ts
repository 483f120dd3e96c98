// Server benchmarks, each a ratio against a baseline from the same run:
// - group commit: fsync durability with concurrent pushers vs one pusher at a
//   time (how much grouping buys), and vs the default "process" durability;
// - pull cost: pulling documents that were each updated 20 times vs documents
//   written once (one index entry per document, so far below the 20x a
//   history log would cost; what remains is LevelDB skipping deleted index
//   keys until it compacts);
// - fan-out: heap per idle Subscribe stream, next to the heap of one stored change.
import { create } from "@bufbuild/protobuf";
import { setMaxListeners } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toBinary } from "@bufbuild/protobuf";
import {
  ChangeBatchSchema,
  ChangeEventSchema,
  CheckpointSchema,
  PushRequestSchema,
  SubscribeRequestSchema,
  SubscribeResponseSchema,
} from "../gen/ts/pocket/sync/v1/sync_pb.js";
import { encodedChange } from "../server/src/fanout/encode-once.js";
import { SyncCore } from "../server/src/core/sync-core.js";
import { FanoutHub } from "../server/src/fanout/hub.js";
import { streamChanges } from "../server/src/fanout/stream.js";
import { pushed } from "../server/src/serve/testing.js";
import { createLevelStorage } from "../server/src/storage/index.js";

const principal = { id: "bench" };

async function withCore<T>(durability: "process" | "fsync", fn: (core: SyncCore) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "pocket-bench-"));
  const core = await SyncCore.open(createLevelStorage(dir), { durability });
  try {
    return await fn(core);
  } finally {
    await core.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pushesPerSecond(durability: "process" | "fsync", writers: number, perWriter: number): Promise<number> {
  return withCore(durability, async (core) => {
    const start = performance.now();
    await Promise.all(Array.from({ length: writers }, (_, w) =>
      (async () => {
        for (let i = 1; i <= perWriter; i++) {
          await core.push(principal, create(PushRequestSchema, { clientId: `w${w}`, changes: [pushed(`w${w}-${i}`, { i, title: "a todo" }, i)] }));
        }
      })(),
    ));
    return (writers * perWriter * 1000) / (performance.now() - start);
  });
}

async function pullMs(updatesPerDocument: number): Promise<number> {
  return withCore("process", async (core) => {
    const documents = 500;
    const revisions = new Map<string, string>();
    for (let round = 0; round < updatesPerDocument; round++) {
      const changes = Array.from({ length: documents }, (_, d) =>
        pushed(`d${d}`, { d, round }, round * documents + d + 1, { baseRevision: revisions.get(`d${d}`) ?? "" }));
      for (let i = 0; i < changes.length; i += 500) {
        const response = await core.push(principal, create(PushRequestSchema, { clientId: "w", changes: changes.slice(i, i + 500) }));
        response.results.forEach((r, j) => {
          if (r.outcome.case === "accepted") revisions.set(`d${i + j}`, r.outcome.value.revision);
        });
      }
    }
    const start = performance.now();
    for (let rep = 0; rep < 20; rep++) {
      const page = await core.pull(principal, { collections: ["todos"], limit: 1000 });
      if (page.changes.length !== documents) throw new Error(`expected ${documents} changes, got ${page.changes.length}`);
    }
    return (performance.now() - start) / 20;
  });
}

async function heapPerSubscriber(): Promise<{ perSubscriber: number; perChange: number }> {
  return withCore("process", async (core) => {
    const hub = new FanoutHub();
    core.onCommit((c, w) => hub.publish(c, w));
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = process.memoryUsage().heapUsed;
    const abort = new AbortController();
    setMaxListeners(0, abort.signal); // one signal shared by 2000 benchmark streams
    const streams = [];
    const count = 2000;
    for (let i = 0; i < count; i++) {
      const stream = streamChanges(core, hub, principal, create(SubscribeRequestSchema, { collections: ["todos"] }), {
        heartbeatMs: 60_000, pageSize: 100, signal: abort.signal,
      });
      await stream.next(); // opened, caught up, now idle
      void stream.next(); // parked waiting for changes
      streams.push(stream);
    }
    gc?.();
    const perSubscriber = (process.memoryUsage().heapUsed - before) / count;
    const change = pushed("x", { title: "a todo", done: false, tags: ["home"] }, 1);
    const perChange = JSON.stringify(change, (_k, v) => (typeof v === "bigint" ? v.toString() : v)).length * 2;
    abort.abort();
    return { perSubscriber, perChange };
  });
}

/** Encoding one 20-change commit for 1000 subscribers: per subscriber vs encoded once. */
function fanOutEncoding(): number {
  const changes = Array.from({ length: 20 }, (_, i) =>
    create(ChangeEventSchema, { ...pushed(`d${i}`, { title: "a todo", done: false, tags: ["home", "work"], i }, i + 1), revision: `1-${i}`, serverSequence: BigInt(i + 1) }));
  const checkpoint = create(CheckpointSchema, { serverSequence: 20n, collections: { todos: 20n }, epoch: "e" });
  const subscribers = 1000;
  const encodeAll = (shared: boolean) => {
    for (let s = 0; s < subscribers; s++) {
      const batch = create(ChangeBatchSchema, { checkpoint, caughtUp: true });
      if (shared) batch.$unknown = changes.map(encodedChange);
      else batch.changes = changes;
      toBinary(SubscribeResponseSchema, create(SubscribeResponseSchema, { event: { case: "changes", value: batch } }));
    }
  };
  const time = (shared: boolean) => {
    encodeAll(shared);
    const start = performance.now();
    for (let rep = 0; rep < 5; rep++) encodeAll(shared);
    return performance.now() - start;
  };
  return time(false) / time(true);
}

export async function run(): Promise<Record<string, number>> {
  const fsyncGrouped = await pushesPerSecond("fsync", 16, 30);
  const fsyncSerial = await pushesPerSecond("fsync", 1, 120);
  const processGrouped = await pushesPerSecond("process", 16, 30);
  const history = await pullMs(20);
  const fresh = await pullMs(1);
  const memory = await heapPerSubscriber();
  const encodeOnce = fanOutEncoding();
  return {
    "push: fsync, 16 concurrent pushers / 1 pusher (group commit gain)": fsyncGrouped / fsyncSerial,
    "push: fsync / process durability, 16 concurrent pushers": fsyncGrouped / processGrouped,
    "pull: 500 docs updated 20x / written once (history cost)": history / fresh,
    "fan-out: encoding a commit for 1000 binary subscribers, per subscriber / encoded once": encodeOnce,
    "fan-out: heap per idle subscriber / size of one change": memory.perSubscriber / memory.perChange,
    "fan-out: heap per idle subscriber, bytes (absolute)": memory.perSubscriber,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await run());
