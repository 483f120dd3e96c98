// Server benchmarks, each a ratio against a baseline from the same run:
// - group commit: fsync durability with concurrent pushers vs one pusher at a
//   time (how much grouping buys), and vs the default "process" durability;
// - pull cost: pulling documents that were each updated 20 times vs documents
//   written once (one index entry per document, so far below the 20x a
//   history log would cost; what remains is LevelDB skipping deleted index
//   keys until it compacts);
import { create } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PushRequestSchema } from "../gen/ts/pocket/sync/v1/sync_pb.js";
import { SyncCore } from "../server/src/core/sync-core.js";
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

export async function run(): Promise<Record<string, number>> {
  const fsyncGrouped = await pushesPerSecond("fsync", 16, 30);
  const fsyncSerial = await pushesPerSecond("fsync", 1, 120);
  const processGrouped = await pushesPerSecond("process", 16, 30);
  const history = await pullMs(20);
  const fresh = await pullMs(1);
  return {
    "push: fsync, 16 concurrent pushers / 1 pusher (group commit gain)": fsyncGrouped / fsyncSerial,
    "push: fsync / process durability, 16 concurrent pushers": fsyncGrouped / processGrouped,
    "pull: 500 docs updated 20x / written once (history cost)": history / fresh,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await run());
