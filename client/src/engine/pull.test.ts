// Pulling against in-memory fakes: the network overlaps applying pages, for
// Pull and for the stream's catch-up, and a page that fails stops everything
// after it (PROTOCOL §9.4).
import { create, fromBinary } from "@bufbuild/protobuf";
import { createRouterTransport } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { ChangeEventSchema, CheckpointSchema, Operation, SyncService } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createDatabase, type Database } from "../db/database.js";
import { isPulledPage, memoryStorage } from "../test-support/memory-storage.js";
import { waitFor } from "../test-support/server-process.js";
import { createSyncEngine, type SyncEngine } from "./engine.js";

const dbs: Database[] = [];
const engines: SyncEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
  await Promise.all(dbs.splice(0).map((d) => d.close()));
});

/** `n` documents as the server sends them, with sequences 1..n. */
const serverDocs = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    create(ChangeEventSchema, {
      operation: Operation.INSERT,
      collection: "todos",
      documentId: `d${i}`,
      document: JSON.stringify({ n: i }),
      revision: `1-${i}`,
      serverSequence: BigInt(i + 1),
      clientId: "other",
      timestamp: { wallTimeMs: 1n, logical: 0 },
    }),
  );

describe("pulling pages", () => {
  it("asks for the next page while applying one, but applies none after a page that failed, and resumes from the last stored", async () => {
    // 25 documents in pages of 10; page n's checkpoint is the sequence of its last change.
    const docs = serverDocs(25);
    const requested: bigint[] = [];
    let releaseSecond: () => void = () => undefined;
    const secondAnswered = new Promise<void>((r) => (releaseSecond = r));
    const transport = createRouterTransport(({ service }) => {
      service(SyncService, {
        push: () => ({ results: [] }),
        async pull(request) {
          const from = request.checkpoint?.serverSequence ?? 0n;
          requested.push(from);
          const page = docs.filter((d) => d.serverSequence > from).slice(0, request.limit);
          const last = page.at(-1)?.serverSequence ?? from;
          if (from === 10n) releaseSecond();
          return { changes: page, checkpoint: { serverSequence: last }, hasMore: last < 25n };
        },
        async *subscribe() {},
      });
    });
    let applies = 0;
    const { storage } = memoryStorage({
      async beforeBatch(ops) {
        if (!isPulledPage(ops)) return;
        applies++;
        if (applies === 1) await secondAnswered; // the second page was asked for before the first is stored
        if (applies === 2) throw new Error("disk full");
      },
    });
    const db = await createDatabase({ name: "pages", storage });
    dbs.push(db);
    const engine = createSyncEngine(db, { serverUrl: "http://fake", collections: ["todos"], transport, direction: "pull", useWebSocket: false, batchSize: 10 });
    engines.push(engine);

    await expect(engine.forceSync()).rejects.toThrow("disk full");
    expect(requested).toEqual([0n, 10n, 20n]); // the third was asked for while the second was applied
    expect(await db.collection("todos").find()).toHaveLength(10); // the third page never applied
    const stored = await db.syncStore.getCheckpoint();
    expect(fromBinary(CheckpointSchema, stored!).serverSequence).toBe(10n);

    await engine.forceSync();
    expect(requested.slice(3)).toEqual([10n, 20n]);
    expect(await db.collection("todos").find()).toHaveLength(25);
  });
});

describe("the live stream catching up", () => {
  it("receives the next page while applying one, applies none after a page that failed, and resumes from the last stored", async () => {
    const docs = serverDocs(30);
    const opened: bigint[] = [];
    let secondSent: () => void = () => undefined;
    const secondPageSent = new Promise<void>((r) => (secondSent = r));
    const transport = createRouterTransport(({ service }) => {
      service(SyncService, {
        push: () => ({ results: [] }),
        pull: () => ({ changes: [], hasMore: false }),
        async *subscribe(request) {
          const from = request.checkpoint?.serverSequence ?? 0n;
          opened.push(from);
          const rest = docs.filter((d) => d.serverSequence > from);
          for (let i = 0; i < rest.length; i += 10) {
            const page = rest.slice(i, i + 10);
            const last = page.at(-1)!.serverSequence;
            if (i === 10) secondSent();
            yield { event: { case: "changes", value: { changes: page, checkpoint: { serverSequence: last }, caughtUp: i + 10 >= rest.length } } };
          }
          await new Promise(() => undefined); // live: nothing more
        },
      });
    });
    let applies = 0;
    const { storage } = memoryStorage({
      async beforeBatch(ops) {
        if (!isPulledPage(ops)) return;
        applies++;
        if (applies === 1) await secondPageSent; // the second page was taken before the first is stored
        if (applies === 2) throw new Error("disk full");
      },
    });
    const db = await createDatabase({ name: "stream", storage });
    dbs.push(db);
    const engine = createSyncEngine(db, { serverUrl: "http://fake", collections: ["todos"], transport, direction: "pull", retryDelay: 5, random: () => 0.5 });
    engines.push(engine);
    await engine.start();
    await waitFor(async () => (await db.collection("todos").find()).length === 30, "catch-up after the failed page");
    expect(opened).toEqual([0n, 10n]); // reconnected from the first page's checkpoint
    expect(applies).toBe(4); // pages 1, 2 (failed), then 2 and 3 again: page 3 was not applied after the failure
  });
});
