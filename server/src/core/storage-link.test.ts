// The core on a storage whose database comes and goes: it starts before the
// database is reachable, answers `unavailable` (never an internal error)
// while it cannot write, and resumes from the persisted last sequence.
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorReason, Operation, PushRequestSchema } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createMemoryStorage, StorageUnavailableError } from "../storage/index.js";
import type { CommitBatch, Storage, StorageEvent } from "../storage/types.js";
import { SyncFailure } from "./failures.js";
import { OPEN_RETRY_DELAY_MS, type Availability } from "./storage-link.js";
import { SyncCore } from "./sync-core.js";

const alice = { id: "alice" };
let wall = 1_700_000_000_000;
let nextClientSequence = 1n;
const request = (documentId: string) =>
  create(PushRequestSchema, {
    clientId: "c",
    changes: [{
      operation: Operation.INSERT, collection: "todos", documentId, document: "{}",
      clientSequence: nextClientSequence++, timestamp: { wallTimeMs: BigInt(wall++), logical: 0 },
    }],
  });

/** A memory storage behind a switch: "down" fails everything as unreachable; events are sent by hand. */
class FlakyStorage implements Storage {
  readonly inner = createMemoryStorage();
  down = false;
  commits = 0;
  private listener: ((event: StorageEvent) => void) | undefined;

  private check(): void {
    if (this.down) throw new StorageUnavailableError("the database is unavailable: connect ECONNREFUSED");
  }
  emit(event: StorageEvent): void {
    this.listener?.(event);
  }
  watch(listener: (event: StorageEvent) => void) {
    this.listener = listener;
    return () => (this.listener = undefined);
  }
  async open() {
    this.check();
    return this.inner.open();
  }
  /** Commits as another server sharing the storage would, up to `lastSequence`. */
  async writeAsAnotherServer(lastSequence: bigint) {
    await this.inner.commitGroup(async (_reader, after) => ({
      batch: { changes: [], idempotency: [{ clientId: "other", clientSequence: lastSequence, fingerprint: "f", outcome: "accepted", serverSequence: after, revision: "r", committedAtMs: 1 }], lastSequence },
      result: undefined,
    }), { sync: false });
    return this.inner.open();
  }
  getDocuments: Storage["getDocuments"] = async (keys) => (this.check(), this.inner.getDocuments(keys));
  getHistoricState: Storage["getHistoricState"] = async (...args) => (this.check(), this.inner.getHistoricState(...args));
  getIdempotencyRecords: Storage["getIdempotencyRecords"] = async (...args) => (this.check(), this.inner.getIdempotencyRecords(...args));
  getClientOwner: Storage["getClientOwner"] = async (clientId) => (this.check(), this.inner.getClientOwner(clientId));
  readBatch: Storage["readBatch"] = async (read) => (this.check(), this.inner.readBatch(read));
  readPosition: Storage["readPosition"] = async () => (this.check(), this.inner.readPosition());
  readPage: Storage["readPage"] = async (...args) => (this.check(), this.inner.readPage(...args));
  listCollections: Storage["listCollections"] = async () => (this.check(), this.inner.listCollections());
  getStatesAt: Storage["getStatesAt"] = async (queries) => (this.check(), this.inner.getStatesAt(queries));
  readIndex: Storage["readIndex"] = async (query) => (this.check(), this.inner.readIndex(query));
  setIndexes: Storage["setIndexes"] = async (specs) => (this.check(), this.inner.setIndexes(specs));
  setReadRule: Storage["setReadRule"] = async (name) => (this.check(), this.inner.setReadRule(name));
  indexes: Storage["indexes"] = () => this.inner.indexes();
  purge: Storage["purge"] = async (...args) => (this.check(), this.inner.purge(...args));
  commitGroup: Storage["commitGroup"] = async (work, options) => {
    this.check();
    this.commits++;
    // Reads inside the group go through the switch too.
    return this.inner.commitGroup((_reader, last) => work(this, last), options);
  };
  close() {
    return this.inner.close();
  }
}

const cores: SyncCore[] = [];
afterEach(async () => {
  await Promise.all(cores.splice(0).map((core) => core.close()));
});
async function open(storage: Storage) {
  const core = await SyncCore.open(storage, { now: () => wall });
  cores.push(core);
  return core;
}
async function failure(promise: Promise<unknown>): Promise<SyncFailure> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SyncFailure) return error;
    throw new Error(`expected a SyncFailure, got ${String(error)}`);
  }
  throw new Error("expected the call to fail");
}
const sequenceOf = async (core: SyncCore, documentId: string) => {
  const result = (await core.push(alice, request(documentId))).results[0]!;
  if (result.outcome.case !== "accepted") throw new Error(`not accepted: ${result.outcome.case}`);
  return result.outcome.value.serverSequence;
};
async function until(condition: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("a storage unreachable at start", () => {
  it("starts the core anyway: calls answer unavailable, attempts go on, writes begin once it is reachable", async () => {
    const storage = new FlakyStorage();
    storage.down = true;
    const core = await open(storage);
    const seen: Availability[] = [];
    core.onAvailability((a) => seen.push(a));
    expect(core.availability).toMatchObject({ writable: false, reason: expect.stringContaining("ECONNREFUSED"), retryInMs: expect.any(Number) });

    for (const call of [core.push(alice, request("a")), core.pull(alice, { collections: ["todos"] })]) {
      const refused = await failure(call);
      expect(refused.code).toBe("unavailable");
      expect(refused.reason).toBe(ErrorReason.UNAVAILABLE);
      expect(refused.message).toMatch(/has not reached its storage yet.*ECONNREFUSED.*retry$/);
    }
    // One more failed attempt is reported, with the wait before the next.
    await until(() => seen.length >= 1, "a second attempt", OPEN_RETRY_DELAY_MS.max * 2);
    expect(seen[0]).toMatchObject({ writable: false, retryInMs: expect.any(Number) });

    storage.down = false;
    await until(() => core.availability.writable, "the core to open", OPEN_RETRY_DELAY_MS.max * 2);
    expect(await sequenceOf(core, "a")).toBe(1n);
    expect(core.epoch).not.toBe("");
  });

  it("fails at once when the storage can never open", async () => {
    const storage = new FlakyStorage();
    storage.open = async () => {
      throw new Error('schema "x" is in use by a Pocket Sync server from before');
    };
    await expect(SyncCore.open(storage)).rejects.toThrow(/in use by a Pocket Sync server from before/);
  });
});

describe("a storage that becomes unavailable", () => {
  it("turns an unreachable database into a retryable unavailable, for pushes and pulls", async () => {
    const storage = new FlakyStorage();
    const core = await open(storage);
    await sequenceOf(core, "a");
    storage.down = true; // the storage has not noticed yet: the calls themselves fail
    const calls = [core.push(alice, request("b")), core.pull(alice, { collections: ["todos"] })].map(failure);
    for (const call of calls) {
      const refused = await call;
      expect(refused.code).toBe("unavailable");
      expect(refused.reason).toBe(ErrorReason.UNAVAILABLE);
      expect(refused.message).toMatch(/ECONNREFUSED.*retry$/);
    }
  });

  it("refuses writes at once while unavailable, then resumes from the persisted last sequence, never going back", async () => {
    const storage = new FlakyStorage();
    const core = await open(storage);
    const published: Array<{ count: number; watermark: bigint; complete: boolean }> = [];
    core.onCommit((changes, watermark, complete) => published.push({ count: changes.length, watermark, complete }));
    expect(await sequenceOf(core, "a")).toBe(1n);

    storage.emit({ kind: "unavailable", reason: "lost the connection to PostgreSQL (terminating connection due to administrator command)" });
    expect(core.availability).toMatchObject({ writable: false, reason: expect.stringContaining("lost the connection") });
    const commitsBefore = storage.commits;
    const refused = await failure(core.push(alice, request("b")));
    expect(refused).toMatchObject({ code: "unavailable", reason: ErrorReason.UNAVAILABLE });
    expect(refused.message).toMatch(/cannot write right now: lost the connection.*retry$/);
    expect(storage.commits).toBe(commitsBefore); // refused without touching storage
    // Reads go on while only writes are impossible.
    expect((await core.pull(alice, { collections: ["todos"] })).changes).toHaveLength(1);

    // Meanwhile another server wrote up to sequence 41.
    storage.emit({ kind: "available", meta: await storage.writeAsAnotherServer(41n) });
    await until(() => core.availability.writable, "writes to resume");
    expect(core.visibleSequence).toBe(41n);
    // Readers were told to catch up from storage for what they never saw.
    expect(published.at(-1)).toEqual({ count: 0, watermark: 41n, complete: false });
    expect(await sequenceOf(core, "c")).toBe(42n);
    expect(published.at(-1)).toEqual({ count: 1, watermark: 42n, complete: true });
  });

  it("stays unavailable rather than reuse sequences when the storage went back in time", async () => {
    const storage = new FlakyStorage();
    const core = await open(storage);
    await sequenceOf(core, "a");
    await sequenceOf(core, "b");
    storage.emit({ kind: "unavailable", reason: "the database restarted" });
    const meta = await storage.open();
    storage.emit({ kind: "available", meta: { ...meta, lastSequence: 1n } }); // restored from an older backup
    await until(() => /went back from sequence 2 to 1/.test(core.availability.reason ?? ""), "the refusal");
    expect(core.availability.writable).toBe(false);
    expect((await failure(core.push(alice, request("c")))).code).toBe("unavailable");
  });

  it("stays unavailable when the storage now holds another data set", async () => {
    const storage = new FlakyStorage();
    const core = await open(storage);
    storage.emit({ kind: "unavailable", reason: "the database restarted" });
    const meta = await storage.open();
    storage.emit({ kind: "available", meta: { ...meta, epoch: "another" } });
    expect(core.availability).toMatchObject({ writable: false, reason: expect.stringMatching(/another data set.*restart the server/) });
    expect((await failure(core.push(alice, request("a")))).code).toBe("unavailable");
  });

  it("never commits a group that was in flight when the storage became unavailable, even if it recovered meanwhile", async () => {
    const storage = new FlakyStorage();
    const core = await open(storage);
    await sequenceOf(core, "a");
    // Hold the next group in its reads, before it commits.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let reading = false;
    const read = storage.readBatch;
    storage.readBatch = async (...args) => {
      reading = true;
      await held;
      return read(...args);
    };
    const inFlight = failure(core.push(alice, request("b")));
    await until(() => reading, "the group to start reading");
    storage.readBatch = read;
    storage.emit({ kind: "unavailable", reason: "lost the connection" });
    storage.emit({ kind: "available", meta: await storage.open() }); // recovers while the group still runs
    const commits = storage.commits;
    release();
    // What it read may predate the loss: it fails, retryable, and writes nothing.
    expect(await inFlight).toMatchObject({ code: "unavailable", reason: ErrorReason.UNAVAILABLE });
    expect(storage.commits).toBe(commits);
    await until(() => core.availability.writable, "writes to resume");
    // Its sequence is never used (sequences need not be contiguous, PROTOCOL §4.1).
    const next = await sequenceOf(core, "c");
    expect(next).toBeGreaterThan(1n);
    expect((await core.pull(alice, { collections: ["todos"] })).changes.map((c) => c.documentId)).toEqual(["a", "c"]);
  });

  it("sends readers to storage after a commit whose outcome is unknown", async () => {
    const storage = new FlakyStorage();
    const core = await open(storage);
    const published: boolean[] = [];
    core.onCommit((_changes, _watermark, complete) => published.push(complete));
    await sequenceOf(core, "a");
    // The connection died during COMMIT: written or not, nobody can tell.
    const commitGroup = storage.commitGroup;
    storage.commitGroup = async (work, options) => {
      await commitGroup(work, options);
      throw new StorageUnavailableError("the database is unavailable: Connection terminated unexpectedly");
    };
    expect((await failure(core.push(alice, request("b")))).code).toBe("unavailable");
    storage.commitGroup = commitGroup;
    await sequenceOf(core, "c");
    expect(published).toEqual([true, false]);
    // And the change that did land is readable, in order.
    const pulled = await core.pull(alice, { collections: ["todos"] });
    expect(pulled.changes.map((c) => [c.documentId, c.serverSequence])).toEqual([["a", 1n], ["b", 2n], ["c", 3n]]);
  });
});
