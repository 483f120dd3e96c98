// Several cores on one PostgreSQL schema, as several server processes run:
// the rules a single process kept by itself must hold across them. The same
// idempotency key at two servers at once is applied once; two servers never
// both accept different changes on the same base revision; a client id binds
// to one principal; a push acknowledged by one is seen by a pull on another;
// each server publishes every commit, its own and the others', in sequence
// order; a checkpoint one gave out is resumable on another; a purge by one
// applies on every one at once.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ChangeEventSchema, CheckpointSchema, Operation, PushRequestSchema, type ChangeResult } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { dropSchemas, freshSchema, postgresStorage, postgresUrl, eventually } from "../storage/testing.js";
import type { StoredChange } from "../storage/types.js";
import { SyncFailure } from "./failures.js";
import { SyncCore, type Principal, type SyncCoreOptions } from "./sync-core.js";

const alice: Principal = { id: "alice" };
const bob: Principal = { id: "bob" };
let wall = Date.now();

const cores: SyncCore[] = [];
afterEach(async () => {
  await Promise.all(cores.splice(0).map((core) => core.close()));
});
afterAll(dropSchemas);

/** `count` servers on one fresh schema. */
async function cluster(count: number, options: SyncCoreOptions = {}): Promise<SyncCore[]> {
  const schema = freshSchema("pocket_cluster");
  const opened = await Promise.all(Array.from({ length: count }, () => SyncCore.open(postgresStorage(schema), { now: () => wall, ...options })));
  cores.push(...opened);
  return opened;
}

type ChangeInit = MessageInitShape<typeof ChangeEventSchema>;
const change = (init: ChangeInit) =>
  create(ChangeEventSchema, { operation: Operation.UPDATE, collection: "todos", timestamp: { wallTimeMs: BigInt(wall++), logical: 0 }, ...init } as ChangeInit);
const insert = (documentId: string, document: object, clientSequence: bigint) =>
  change({ operation: Operation.INSERT, documentId, document: JSON.stringify(document), clientSequence });
const push = async (core: SyncCore, principal: Principal, clientId: string, ...changes: ReturnType<typeof change>[]) =>
  (await core.push(principal, create(PushRequestSchema, { clientId, changes }))).results;
function accepted(result: ChangeResult | undefined) {
  if (result?.outcome.case !== "accepted") throw new Error(`expected accepted, got ${result?.outcome.case}`);
  return result.outcome.value;
}
/** Retries while the answer is a retryable `unavailable`, as clients do. */
async function retrying<T>(call: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof SyncFailure && error.code === "unavailable")) throw error;
    }
  }
}

if (!postgresUrl && process.env.CI) {
  describe("several servers on one PostgreSQL schema", () => {
    it("is tested in CI", () => {
      throw new Error("CI must test several servers on PostgreSQL: set POCKET_TEST_POSTGRES_URL (bash scripts/start-postgres.sh starts PostgreSQL and prints it)");
    });
  });
}

describe.runIf(postgresUrl)("several servers on one PostgreSQL schema", () => {
  it("apply the same idempotency key arriving at two of them at once once, and answer both alike", async () => {
    const [a, b] = await cluster(2);
    for (let round = 1n; round <= 30n; round++) {
      const same = insert(`doc-${round}`, { round: Number(round) }, round);
      const [ra, rb] = await Promise.all([push(a!, alice, "phone", same), push(b!, alice, "phone", same)]);
      expect(accepted(ra[0])).toEqual(accepted(rb[0]));
    }
    const pulled = await a!.pull(alice, { collections: ["todos"], limit: 1000 });
    expect(pulled.changes).toHaveLength(30);
    expect(new Set(pulled.changes.map((c) => c.serverSequence)).size).toBe(30);
    expect(a!.counters.idempotentReplays + b!.counters.idempotentReplays).toBe(30);
  });

  it("never both accept different changes on the same base revision", async () => {
    const [a, b] = await cluster(2);
    for (let round = 1; round <= 30; round++) {
      const base = accepted((await push(a!, alice, "seed", insert(`doc-${round}`, { v: 0 }, BigInt(round))))[0]).revision;
      const edit = (v: string, clientSequence: bigint) => change({ documentId: `doc-${round}`, document: JSON.stringify({ v }), baseRevision: base, clientSequence });
      const [ra, rb] = await Promise.all([push(a!, alice, "left", edit("left", BigInt(round))), push(b!, alice, "right", edit("right", BigInt(round)))]);
      const outcomes = [ra[0]!.outcome.case, rb[0]!.outcome.case].sort();
      expect(outcomes).toEqual(["accepted", "conflict"]);
      const winner = ra[0]!.outcome.case === "accepted" ? "left" : "right";
      const loser = ra[0]!.outcome.case === "conflict" ? ra[0]! : rb[0]!;
      expect(loser.outcome.case === "conflict" && JSON.parse(loser.outcome.value.current!.document)).toEqual({ v: winner });
    }
  });

  it("bind a fresh client id to exactly one of two principals racing for it at two servers", async () => {
    const [a, b] = await cluster(2);
    for (let round = 0; round < 20; round++) {
      const outcomes = await Promise.allSettled([
        retrying(() => push(a!, alice, `contested-${round}`, insert(`a-${round}`, {}, 1n))),
        retrying(() => push(b!, bob, `contested-${round}`, insert(`b-${round}`, {}, 1n))),
      ]);
      const won = outcomes.filter((o) => o.status === "fulfilled");
      const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost[0]!.reason).toMatchObject({ code: "permission_denied" });
    }
  });

  it("let a pull on one server see a push another acknowledged, and resume a checkpoint another gave out", async () => {
    const [a, b] = await cluster(2);
    for (let i = 1; i <= 20; i++) {
      const response = await a!.push(alice, create(PushRequestSchema, { clientId: "w", changes: [insert(`d${i}`, { i }, BigInt(i))] }));
      const sequence = accepted(response.results[0]).serverSequence;
      // At once: no waiting for the notification to reach b.
      const pulled = await b!.pull(alice, { collections: ["todos"], checkpoint: create(CheckpointSchema, { collections: { todos: sequence - 1n }, serverSequence: sequence - 1n, epoch: b!.epoch }) });
      expect(pulled.changes.map((c) => c.serverSequence)).toEqual([sequence]);
      // A checkpoint at the pushed sequence is resumable on b even before b published it.
      await b!.ensureResumable(["todos"], pulled.checkpoint);
    }
  });

  it("publish every commit to their own readers once, in sequence order, whichever server committed it", async () => {
    const servers = await cluster(3);
    const heard = servers.map(() => ({ sequences: [] as bigint[], watermarks: [] as bigint[], incomplete: 0 }));
    servers.forEach((core, i) =>
      core.onCommit((changes: readonly StoredChange[], watermark, complete) => {
        const log = heard[i]!;
        const previous = log.watermarks.at(-1) ?? 0n;
        // Never a change at or below a watermark already published, never one above the new one.
        for (const { event } of changes) {
          expect(event.serverSequence > previous && event.serverSequence <= watermark).toBe(true);
          log.sequences.push(event.serverSequence);
        }
        expect(watermark > previous).toBe(true);
        log.watermarks.push(watermark);
        if (!complete) log.incomplete++;
      }),
    );
    const acknowledged: bigint[] = [];
    await Promise.all(servers.flatMap((core, s) =>
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 1; i <= 15; i++) {
          const results = await push(core, alice, `s${s}w${w}`, insert(`s${s}w${w}-${i}`, { i }, BigInt(i)));
          acknowledged.push(accepted(results[0]).serverSequence);
        }
      }),
    ));
    const last = acknowledged.reduce((x, y) => (x > y ? x : y));
    await eventually(() => servers.every((core) => core.visibleSequence >= last), 10_000, "every server to publish everything");
    const sorted = [...acknowledged].sort((x, y) => (x < y ? -1 : 1));
    for (const log of heard) {
      expect(log.incomplete).toBe(0);
      // Every change exactly once, in sequence order (no document was written twice).
      expect(log.sequences).toEqual(sorted);
    }
  });

  it("apply a purge run by one server on every server at once: an older checkpoint is refused everywhere", async () => {
    const [a, b] = await cluster(2, { tombstoneRetentionMs: 0 });
    const created = accepted((await push(a!, alice, "w", insert("gone", {}, 1n)))[0]);
    accepted((await push(a!, alice, "w", change({ operation: Operation.DELETE, documentId: "gone", baseRevision: created.revision, clientSequence: 2n })))[0]);
    accepted((await push(a!, alice, "w", insert("kept", {}, 3n)))[0]);
    const old = create(CheckpointSchema, { collections: { todos: 1n }, serverSequence: 1n, epoch: a!.epoch });
    expect((await b!.pull(alice, { collections: ["todos"], checkpoint: old })).changes.map((c) => c.documentId)).toEqual(["gone", "kept"]);
    wall += 10;
    expect((await a!.purge()).tombstonesPurged).toBe(1);
    for (const core of [a!, b!]) {
      await expect(core.pull(alice, { collections: ["todos"], checkpoint: old })).rejects.toMatchObject({ code: "failed_precondition" });
      await expect(core.ensureResumable(["todos"], old)).rejects.toMatchObject({ code: "failed_precondition" });
    }
  });
});
