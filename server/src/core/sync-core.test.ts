import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  ChangeEventSchema,
  ErrorReason,
  Operation,
  PushRequestSchema,
  type ChangeResult,
  type Checkpoint,
} from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createMemoryStorage } from "../storage/index.js";
import { SyncFailure } from "./failures.js";
import { DEFAULTS, SyncCore, type SyncCoreOptions } from "./sync-core.js";

const alice = { id: "alice" };
let wall = 1_700_000_000_000;

type ChangeInit = MessageInitShape<typeof ChangeEventSchema>;
function change(init: ChangeInit) {
  const defaults: ChangeInit = { operation: Operation.UPDATE, collection: "todos", timestamp: { wallTimeMs: BigInt(wall++), logical: 0 } };
  return create(ChangeEventSchema, { ...defaults, ...init } as ChangeInit);
}
const insert = (documentId: string, document: object, clientSequence: bigint, extra: MessageInitShape<typeof ChangeEventSchema> = {}) =>
  change({ operation: Operation.INSERT, documentId, document: JSON.stringify(document), clientSequence, ...extra });

async function open(options: SyncCoreOptions = {}) {
  return SyncCore.open(createMemoryStorage(), { now: () => wall, ...options });
}
async function push(core: SyncCore, clientId: string, ...changes: ReturnType<typeof change>[]) {
  return (await core.push(alice, create(PushRequestSchema, { clientId, changes }))).results;
}
function accepted(result: ChangeResult | undefined) {
  if (result?.outcome.case !== "accepted") throw new Error(`expected accepted, got ${result?.outcome.case}`);
  return result.outcome.value;
}

describe("push", () => {
  it("accepts a new document and gives it a revision and a sequence", async () => {
    const core = await open();
    const [result] = await push(core, "a", insert("t1", { title: "milk" }, 1n));
    expect(accepted(result)).toMatchObject({ serverSequence: 1n, revision: "1-1" });
    expect(core.visibleSequence).toBe(1n);
  });

  it("assigns strictly increasing sequences in request order", async () => {
    const core = await open();
    const results = await push(core, "a", insert("x", {}, 1n), insert("y", {}, 2n), insert("z", {}, 3n));
    expect(results.map((r) => accepted(r).serverSequence)).toEqual([1n, 2n, 3n]);
  });

  it("reports a conflict when the base revision is not current, writing nothing", async () => {
    const core = await open();
    const rev = accepted((await push(core, "a", insert("t1", { n: 1 }, 1n)))[0]).revision;
    await push(core, "a", change({ documentId: "t1", document: '{"n":2}', baseRevision: rev, clientSequence: 2n }));
    const [result] = await push(core, "b", change({ documentId: "t1", document: '{"n":3}', baseRevision: rev, clientSequence: 1n }));
    expect(result?.outcome.case).toBe("conflict");
    expect(result?.outcome.case === "conflict" && result.outcome.value.current?.document).toBe('{"n":2}');
    expect(core.visibleSequence).toBe(2n);
    expect(core.counters.conflicts.get("report")).toBe(1);
  });

  it("reports a conflict for an insert over an existing document", async () => {
    const core = await open();
    await push(core, "a", insert("t1", { n: 1 }, 1n));
    const [result] = await push(core, "b", insert("t1", { n: 2 }, 1n));
    expect(result?.outcome.case).toBe("conflict");
  });

  it.each([
    ["server-wins", '{"title":"server"}', false],
    ["client-wins", '{"title":"client"}', true],
    ["last-write-wins", '{"title":"client"}', true],
  ] as const)("settles a conflict by %s", async (strategy, expected, wrote) => {
    const core = await open({ conflicts: { default: strategy } });
    const rev = accepted((await push(core, "s", insert("d", { title: "base" }, 1n)))[0]).revision;
    await push(core, "s", change({ documentId: "d", document: '{"title":"server"}', baseRevision: rev, clientSequence: 2n }));
    const [result] = await push(core, "c", change({ documentId: "d", document: '{"title":"client"}', baseRevision: rev, clientSequence: 1n }));
    expect(result?.outcome.case).toBe("resolved");
    if (result?.outcome.case !== "resolved") return;
    expect(result.outcome.value.strategy).toBe(strategy);
    expect(result.outcome.value.current?.document).toBe(expected);
    expect(core.visibleSequence).toBe(wrote ? 3n : 2n);
  });

  it("last-write-wins keeps the server's version when it is later", async () => {
    const core = await open({ conflicts: { default: "last-write-wins" } });
    const rev = accepted((await push(core, "s", insert("d", { v: 0 }, 1n)))[0]).revision;
    const early = { wallTimeMs: 10n, logical: 0 };
    await push(core, "s", change({ documentId: "d", document: '{"v":"server"}', baseRevision: rev, clientSequence: 2n }));
    const [result] = await push(core, "c", change({ documentId: "d", document: '{"v":"client"}', baseRevision: rev, clientSequence: 1n, timestamp: early }));
    expect(result?.outcome.case === "resolved" && result.outcome.value.current?.document).toBe('{"v":"server"}');
  });

  it("merges fields per collection strategy, and a custom resolver decides when configured", async () => {
    const core = await open({
      conflicts: {
        collections: {
          todos: "merge",
          notes: { name: "keep-longest", resolve: (c) => ({ winner: "merged", document: { text: [c.client.document?.text, c.server.document?.text].sort().join("+") } }) },
        },
      },
    });
    const rev = accepted((await push(core, "s", insert("d", { title: "t", done: false }, 1n)))[0]).revision;
    await push(core, "s", change({ documentId: "d", document: '{"title":"t","done":true}', baseRevision: rev, clientSequence: 2n }));
    const [merged] = await push(core, "c", change({ documentId: "d", document: '{"title":"t","done":false,"tag":"x"}', baseRevision: rev, clientSequence: 1n }));
    // Three-way (the base is kept for merge collections): only the server changed
    // "done", only the client added "tag"; both survive.
    expect(merged?.outcome.case === "resolved" && JSON.parse(merged.outcome.value.current!.document)).toEqual({ title: "t", done: true, tag: "x" });

    const nrev = accepted((await push(core, "s", insert("n", { text: "a" }, 3n, { collection: "notes" })))[0]).revision;
    await push(core, "s", change({ collection: "notes", documentId: "n", document: '{"text":"b"}', baseRevision: nrev, clientSequence: 4n }));
    const [custom] = await push(core, "c", change({ collection: "notes", documentId: "n", document: '{"text":"c"}', baseRevision: nrev, clientSequence: 2n }));
    expect(custom?.outcome.case === "resolved" && custom.outcome.value).toMatchObject({ strategy: "keep-longest", current: { document: '{"text":"b+c"}' } });
  });

  it("merges three-way when the base revision is kept: a field one side removed stays removed", async () => {
    const core = await open({ conflicts: { default: "merge" } });
    const base = accepted((await push(core, "s", insert("d", { title: "t", note: "x", done: false }, 1n)))[0]).revision;
    // The server side drops "note"; the client, from the same base, marks it done.
    await push(core, "s", change({ documentId: "d", document: '{"title":"t","done":false}', baseRevision: base, clientSequence: 2n }));
    const [merged] = await push(core, "c", change({ documentId: "d", document: '{"title":"t","note":"x","done":true}', baseRevision: base, clientSequence: 1n }));
    expect(merged?.outcome.case === "resolved" && JSON.parse(merged.outcome.value.current!.document)).toEqual({ title: "t", done: true });
  });

  it("applies a retried push once and answers with the original results", async () => {
    const core = await open();
    const request = [insert("a", { n: 1 }, 1n), insert("b", { n: 2 }, 2n)];
    const first = await push(core, "c", ...request);
    const again = await push(core, "c", ...request);
    expect(again).toEqual(first);
    expect(core.visibleSequence).toBe(2n);
    expect(core.counters.idempotentReplays).toBe(2);
  });

  it("refuses a reused client sequence with other content", async () => {
    const core = await open();
    await push(core, "c", insert("a", { n: 1 }, 1n));
    const [result] = await push(core, "c", insert("a", { n: 999 }, 1n));
    expect(result?.outcome.case === "rejected" && result.outcome.value.reason).toBe("ERROR_REASON_IDEMPOTENCY_MISMATCH");
  });

  it("answers unavailable, a retryable code, once it is closing", async () => {
    const core = await open();
    await core.close();
    await expect(push(core, "c", insert("late", {}, 1n))).rejects.toMatchObject({ code: "unavailable", reason: ErrorReason.UNAVAILABLE });
  });

  it("applies concurrent retries of one push once", async () => {
    const core = await open();
    const request = [insert("a", { n: 1 }, 1n)];
    const results = await Promise.all([push(core, "c", ...request), push(core, "c", ...request), push(core, "c", ...request)]);
    expect(new Set(results.map((r) => accepted(r[0]).serverSequence))).toEqual(new Set([1n]));
    expect(core.visibleSequence).toBe(1n);
  });

  it("rejects bad changes one by one and commits the rest", async () => {
    const core = await open({
      authorize: (_p, action, collection) => !(action === "write" && collection === "locked"),
      validate: ({ document }) => (document && "forbidden" in document ? "field forbidden is not allowed" : undefined),
      maxDocumentBytes: 100,
    });
    const results = await push(
      core,
      "c",
      insert("ok", { fine: true }, 1n),
      change({ operation: Operation.INSERT, documentId: "json", document: "{not json", clientSequence: 2n }),
      change({ operation: Operation.INSERT, documentId: "arr", document: "[1,2]", clientSequence: 3n }),
      insert("res", { _id: "res" }, 4n),
      insert("big", { blob: "x".repeat(200) }, 5n),
      insert("lock", {}, 6n, { collection: "locked" }),
      insert("val", { forbidden: 1 }, 7n),
      insert("skew", {}, 8n, { timestamp: { wallTimeMs: BigInt(wall + 48 * 3600_000), logical: 0 } }),
    );
    const reasons = results.map((r) => (r.outcome.case === "rejected" ? `${r.outcome.value.code}:${r.outcome.value.reason}` : r.outcome.case));
    expect(reasons).toEqual([
      "accepted",
      "3:ERROR_REASON_INVALID_DOCUMENT",
      "3:ERROR_REASON_INVALID_DOCUMENT",
      "3:ERROR_REASON_INVALID_DOCUMENT",
      "8:ERROR_REASON_TOO_LARGE",
      "7:ERROR_REASON_PERMISSION_DENIED",
      "3:ERROR_REASON_VALIDATION_FAILED",
      "3:ERROR_REASON_INVALID_ARGUMENT",
    ]);
    const json = results[1]!.outcome.case === "rejected" ? results[1]!.outcome.value : undefined;
    expect(json?.fieldViolations[0]?.field).toBe("changes[1].document");
    expect(core.visibleSequence).toBe(1n);
  });
});

describe("pull", () => {
  async function seeded() {
    const core = await open();
    await push(core, "a", insert("t1", {}, 1n), insert("n1", {}, 2n, { collection: "notes" }), insert("t2", {}, 3n), insert("t3", {}, 4n));
    return core;
  }

  it("returns every change once in sequence order, then nothing more", async () => {
    const core = await seeded();
    const page = await core.pull(alice, { collections: ["todos", "notes"] });
    expect(page.changes.map((c) => c.documentId)).toEqual(["t1", "n1", "t2", "t3"]);
    expect(page.hasMore).toBe(false);
    const next = await core.pull(alice, { collections: ["todos", "notes"], checkpoint: page.checkpoint });
    expect(next.changes).toEqual([]);
  });

  it("pages with has_more and never skips or repeats across pages", async () => {
    const core = await seeded();
    const seen: string[] = [];
    let checkpoint: Checkpoint | undefined;
    for (let guard = 0; guard < 10; guard++) {
      const page = await core.pull(alice, { collections: ["todos", "notes"], checkpoint, limit: 1 });
      seen.push(...page.changes.map((c) => c.documentId));
      checkpoint = page.checkpoint;
      if (!page.hasMore) break;
    }
    expect(seen).toEqual(["t1", "n1", "t2", "t3"]);
  });

  it("returns a document changed many times once, in its latest state", async () => {
    const core = await open();
    let rev = accepted((await push(core, "a", insert("d", { v: 0 }, 1n)))[0]).revision;
    for (let v = 1; v <= 5; v++) {
      rev = accepted((await push(core, "a", change({ documentId: "d", document: `{"v":${v}}`, baseRevision: rev, clientSequence: BigInt(v + 1) })))[0]).revision;
    }
    const page = await core.pull(alice, { collections: ["todos"] });
    expect(page.changes.map((c) => c.document)).toEqual(['{"v":5}']);
  });

  it("keeps other collections' positions when pulling a subset", async () => {
    const core = await seeded();
    const notes = await core.pull(alice, { collections: ["notes"] });
    const todos = await core.pull(alice, { collections: ["todos"], checkpoint: notes.checkpoint });
    expect(todos.changes.map((c) => c.documentId)).toEqual(["t1", "t2", "t3"]);
    expect(todos.checkpoint?.collections).toEqual({ notes: 4n, todos: 4n });
  });

  it("refuses a collection the principal may not read and hides unreadable documents", async () => {
    const core = await open({
      authorize: (_p, action, collection, change) => action === "write" || (collection !== "secret" && change?.documentId !== "hidden"),
    });
    await push(core, "a", insert("open", {}, 1n), insert("hidden", {}, 2n));
    const page = await core.pull(alice, { collections: ["todos"] });
    expect(page.changes.map((c) => c.documentId)).toEqual(["open"]);
    expect(page.checkpoint?.collections.todos).toBe(2n);
    await expect(core.pull(alice, { collections: ["secret"] })).rejects.toMatchObject({ code: "permission_denied" });
  });

  it("requires a resync after tombstones past the checkpoint were purged, or from another epoch", async () => {
    let now = 1_000_000;
    const core = await SyncCore.open(createMemoryStorage(), { now: () => now, tombstoneRetentionMs: 1_000 });
    await push(core, "a", insert("x", {}, 1n, { timestamp: { wallTimeMs: 1n, logical: 0 } }), insert("y", {}, 2n, { timestamp: { wallTimeMs: 1n, logical: 0 } }));
    const early = (await core.pull(alice, { collections: ["todos"] })).checkpoint!;
    const [del] = await push(core, "a", change({ operation: Operation.DELETE, documentId: "x", baseRevision: "1-1", clientSequence: 3n, timestamp: { wallTimeMs: 2n, logical: 0 } }));
    expect(del?.outcome.case).toBe("accepted");
    const late = (await core.pull(alice, { collections: ["todos"] })).checkpoint!;
    now += 5_000;
    expect((await core.purge()).tombstonesPurged).toBe(1);
    const failure = await core.pull(alice, { collections: ["todos"], checkpoint: early }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SyncFailure);
    expect(failure).toMatchObject({ code: "failed_precondition", reason: ErrorReason.RESYNC_REQUIRED, metadata: { collections: "todos" } });
    // A checkpoint that saw the tombstone, and a fresh start, are fine.
    expect((await core.pull(alice, { collections: ["todos"], checkpoint: late })).changes).toEqual([]);
    expect((await core.pull(alice, { collections: ["todos"] })).changes.map((c) => c.documentId)).toEqual(["y"]);
    const foreign = { ...late, epoch: "another-server" };
    await expect(core.pull(alice, { collections: ["todos"], checkpoint: foreign })).rejects.toMatchObject({ reason: ErrorReason.RESYNC_REQUIRED });
  });

  it("keeps idempotency records for the record retention, longer than tombstones", async () => {
    let now = 1_000_000;
    const early = { timestamp: { wallTimeMs: 1n, logical: 0 } };
    const core = await SyncCore.open(createMemoryStorage(), { now: () => now, tombstoneRetentionMs: 1_000, recordRetentionMs: 60_000 });
    const first = await push(core, "a", insert("x", {}, 1n, early));
    const { revision } = accepted(first[0]);
    accepted((await push(core, "a", change({ operation: Operation.DELETE, documentId: "x", baseRevision: revision, clientSequence: 2n, ...early })))[0]);
    now += 5_000;
    expect(await core.purge()).toMatchObject({ tombstonesPurged: 1, idempotencyRecordsPurged: 0 });
    // The insert's record outlived the tombstone: its retry is a replay, not a new insert.
    expect(await push(core, "a", insert("x", {}, 1n, early))).toEqual(first);
    now += 60_000;
    expect((await core.purge()).idempotencyRecordsPurged).toBe(2);
  });

  it("joins a purge asked for while one runs, so slow purges on a short timer do not starve commits", async () => {
    const storage = createMemoryStorage();
    let purges = 0;
    const purge = storage.purge.bind(storage);
    storage.purge = async (...args) => {
      purges++;
      await new Promise((resolve) => setTimeout(resolve, 40));
      return purge(...args);
    };
    const core = await SyncCore.open(storage, { now: () => wall });
    const asked: Promise<unknown>[] = [];
    const timer = setInterval(() => asked.push(core.purge()), 5);
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = Date.now();
      accepted((await push(core, "a", insert("during", {}, 1n)))[0]);
      expect(Date.now() - started).toBeLessThan(500);
    } finally {
      clearInterval(timer);
    }
    await Promise.all(asked);
    expect(asked.length).toBeGreaterThan(10);
    expect(purges).toBeLessThan(asked.length / 3);
  });

  it("takes the default for an option given as undefined (a flag not set)", async () => {
    let now = 1_000_000;
    const early = { timestamp: { wallTimeMs: 1n, logical: 0 } };
    const core = await SyncCore.open(createMemoryStorage(), { now: () => now, tombstoneRetentionMs: undefined, recordRetentionMs: undefined, maxDocumentBytes: undefined });
    const { revision } = accepted((await push(core, "a", insert("x", {}, 1n, early)))[0]);
    accepted((await push(core, "a", change({ operation: Operation.DELETE, documentId: "x", baseRevision: revision, clientSequence: 2n, ...early })))[0]);
    now += DEFAULTS.tombstoneRetentionMs + 1;
    expect((await core.purge()).tombstonesPurged).toBe(1);
    const [big] = await push(core, "a", insert("y", { pad: "x".repeat(DEFAULTS.maxDocumentBytes) }, 3n, early));
    expect(big?.outcome.case === "rejected" && big.outcome.value.reason).toBe("ERROR_REASON_TOO_LARGE");
  });

  it("lets a pull from the beginning page past a purged tombstone, and refuses a chain a later purge broke", async () => {
    let now = 1_000_000;
    const early = { timestamp: { wallTimeMs: 1n, logical: 0 } };
    const core = await SyncCore.open(createMemoryStorage(), { now: () => now, tombstoneRetentionMs: 1_000 });
    const docs = Array.from({ length: 6 }, (_, i) => insert(`d${i}`, { i }, BigInt(i + 1), early));
    await push(core, "a", ...docs);
    const [gone] = await push(core, "a", insert("gone", {}, 7n, early));
    accepted((await push(core, "a", change({ operation: Operation.DELETE, documentId: "gone", baseRevision: accepted(gone).revision, clientSequence: 8n, ...early })))[0]);
    now += 5_000;
    expect((await core.purge()).tombstonesPurged).toBe(1);
    // A client starting now pages through everything: the purged tombstone is
    // above its first page, but nothing it could hold was deleted by it.
    const ids: string[] = [];
    let checkpoint: Checkpoint | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await core.pull(alice, { collections: ["todos"], ...(checkpoint ? { checkpoint } : {}), limit: 2 });
      ids.push(...res.changes.map((c) => c.documentId));
      checkpoint = res.checkpoint;
      if (!res.hasMore) break;
    }
    expect(ids).toEqual(docs.map((d) => d.documentId));
    // A chain begun before a delete, whose tombstone is purged before the
    // chain reaches it, is refused: it may hold the deleted document.
    const first = await core.pull(alice, { collections: ["todos"], limit: 2 });
    const [late] = await push(core, "a", change({ operation: Operation.DELETE, documentId: "d0", baseRevision: "1-1", clientSequence: 9n, ...early }));
    accepted(late);
    now += 5_000;
    expect((await core.purge()).tombstonesPurged).toBe(1);
    await expect(core.pull(alice, { collections: ["todos"], checkpoint: first.checkpoint!, limit: 2 })).rejects.toMatchObject({ reason: ErrorReason.RESYNC_REQUIRED });
  });

  it("never misses a change while pushes run concurrently", async () => {
    const core = await open();
    const writers = Array.from({ length: 5 }, (_, w) =>
      (async () => {
        for (let i = 1; i <= 40; i++) await push(core, `w${w}`, insert(`w${w}-${i}`, { i }, BigInt(i)));
      })(),
    );
    const seen = new Map<string, number>();
    let checkpoint: Checkpoint | undefined;
    const reader = (async () => {
      let done = false;
      void Promise.all(writers).then(() => (done = true));
      for (;;) {
        const finished = done;
        const page = await core.pull(alice, { collections: ["todos"], checkpoint, limit: 7 });
        for (const c of page.changes) seen.set(c.documentId, (seen.get(c.documentId) ?? 0) + 1);
        checkpoint = page.checkpoint;
        if (finished && !page.hasMore) return;
        await new Promise((r) => setImmediate(r));
      }
    })();
    await Promise.all([...writers, reader]);
    expect(seen.size).toBe(200);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });
});
