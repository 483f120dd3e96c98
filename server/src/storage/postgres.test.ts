// What only the PostgreSQL storage does: several servers on one schema (the
// counter row serializing their commit groups, NOTIFY telling each of the
// others' commits), migrations run once when servers start together, one
// purger at a time, and riding out a lost connection. The shared suite
// (storage.test.ts) covers the rest.
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { IdempotencyKeyTaken, StorageUnavailableError } from "./index.js";
import { legacyWriterLock, purgeLock } from "./postgres-locks.js";
import { LegacyServerRunning } from "./postgres-schema.js";
import { PURGE_CHUNK } from "./postgres-writes.js";
import { changesOf, commit, dropSchemas, eventually, freshSchema, postgresStorage as postgres, postgresUrl, record, stored, withAdmin } from "./testing.js";
import type { Storage, StorageEvent } from "./types.js";

afterAll(dropSchemas);

const opened: Storage[] = [];
async function open(schema: string, options: Parameters<typeof postgres>[1] = {}) {
  const storage = postgres(schema, options);
  const meta = await storage.open();
  opened.push(storage);
  return { storage, meta };
}
afterAll(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

describe.runIf(postgresUrl)("postgres storage: several servers on one schema", () => {
  it("lets them all open it, starting together on a fresh schema: the tables are created once", async () => {
    const schema = freshSchema();
    const metas = await Promise.all(Array.from({ length: 6 }, () => open(schema).then((o) => o.meta)));
    expect(new Set(metas.map((m) => m.epoch)).size).toBe(1);
    expect(metas.every((m) => m.lastSequence === 0n)).toBe(true);
    const format = await withAdmin((admin) => admin.query(`SELECT format FROM "${schema}".meta`));
    expect(format.rows[0].format).toBe(3);
  });

  it("serializes their commit groups on the counter row: a group reads what the other server's group wrote before it", async () => {
    const schema = freshSchema();
    const { storage: a } = await open(schema);
    const { storage: b } = await open(schema);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inA = new Promise<void>((resolve) => (entered = resolve));
    const first = a.commitGroup(async (_reader, last) => {
      entered();
      await held;
      return { batch: { changes: [stored("t", "x", last + 1n)], idempotency: [record(1n)], lastSequence: last + 1n }, result: undefined };
    }, { sync: false });
    await inA;
    let bStarted = false;
    const second = b.commitGroup(async (reader, last) => {
      bStarted = true;
      const [[x], [r]] = await Promise.all([reader.getDocuments([{ collection: "t", documentId: "x" }]), reader.getIdempotencyRecords("c", [1n])]);
      return { batch: { changes: [stored("t", "y", last + 1n)], idempotency: [], lastSequence: last + 1n }, result: { last, x: x?.event.serverSequence, r: r?.fingerprint } };
    }, { sync: false });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(bStarted).toBe(false); // waiting for the counter row
    release();
    await first;
    expect((await second).result).toEqual({ last: 1n, x: 1n, r: "f1" });
    expect((await a.readPosition()).lastSequence).toBe(2n);
  });

  it("gives every sequence once and stores every idempotency key once, however their groups race", async () => {
    const schema = freshSchema();
    const servers = await Promise.all([open(schema), open(schema), open(schema)]);
    const sequences: bigint[] = [];
    let taken = 0;
    await Promise.all(servers.flatMap(({ storage }, s) =>
      Array.from({ length: 20 }, (_, i) =>
        storage.commitGroup(async (reader, last) => {
          // Every server tries the same two keys in each round: one wins.
          const [known] = await reader.getIdempotencyRecords("shared", [BigInt(i)]);
          const records = known ? [] : [record(BigInt(i), { clientId: "shared" })];
          const batch = { changes: [stored("t", `s${s}-${i}`, last + 1n), stored("u", `s${s}-${i}`, last + 2n)], idempotency: records, lastSequence: last + 2n };
          return { batch, result: undefined };
        }, { sync: false }).then(
          (group) => sequences.push(group.after + 1n, group.lastSequence),
          (error: unknown) => {
            if (!(error instanceof IdempotencyKeyTaken)) throw error;
            taken++;
          },
        ),
      ),
    ));
    expect(taken).toBe(0); // the read inside the group saw the other servers' records
    expect(new Set(sequences).size).toBe(sequences.length);
    expect(sequences.length).toBe(120);
    expect([...sequences].sort((x, y) => (x < y ? -1 : 1))).toEqual(Array.from({ length: 120 }, (_, i) => BigInt(i + 1)));
    const records = await servers[0]!.storage.getIdempotencyRecords("shared", Array.from({ length: 20 }, (_, i) => BigInt(i)));
    expect(records.every(Boolean)).toBe(true);
  });

  it("tells every server of every commit, and reads them back across collections in sequence order", async () => {
    const schema = freshSchema();
    const { storage: a } = await open(schema);
    const { storage: b } = await open(schema);
    const heard: bigint[] = [];
    b.watch!((event) => {
      if (event.kind === "committed") heard.push(event.lastSequence);
    });
    await commit(a, { changes: [stored("t", "1", 1n), stored("u", "1", 2n)], idempotency: [], lastSequence: 2n });
    await commit(a, { changes: [stored("u", "2", 3n), stored("t", "1", 4n)], idempotency: [], lastSequence: 4n });
    await commit(a, { changes: [], idempotency: [record(1n)], lastSequence: 4n }); // moves nothing: no notification
    await eventually(() => heard.length >= 2, 5_000, "the notifications");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(heard).toEqual([2n, 4n]);
    // The latest state of each document, in sequence order, up to the committed counter.
    const all = await b.readCommitted!(0n, 100n, 10);
    expect(all.lastSequence).toBe(4n);
    expect(all.changes.map((c) => `${c.event.collection}/${c.event.documentId}@${c.event.serverSequence}`)).toEqual(["u/1@2", "u/2@3", "t/1@4"]);
    expect((await b.readCommitted!(2n, 3n, 10)).changes.map((c) => c.event.serverSequence)).toEqual([3n]);
    expect((await b.readCommitted!(0n, 100n, 2)).changes.map((c) => c.event.serverSequence)).toEqual([2n, 3n]);
  });

  it("lets one server purge at a time: another one skips its turn while the lock is held", async () => {
    const schema = freshSchema();
    const { storage } = await open(schema);
    const tombstones = PURGE_CHUNK * 2 + 5; // more than one chunk
    await commit(storage, {
      changes: Array.from({ length: tombstones }, (_, i) => stored(i % 2 ? "t" : "u", `d${i}`, BigInt(i + 1), { deleted: true, at: 10 })),
      idempotency: [record(1n)],
      lastSequence: BigInt(tombstones),
    });
    await withAdmin(async (admin) => {
      await admin.query("SELECT pg_advisory_lock($1::int4, $2::int4)", purgeLock(schema));
      const skipped = await storage.purge(100);
      expect(skipped).toEqual({ tombstonesPurged: 0, idempotencyRecordsPurged: 0, purgedThrough: {} });
      await admin.query("SELECT pg_advisory_unlock($1::int4, $2::int4)", purgeLock(schema));
    });
    const result = await storage.purge(100);
    expect(result).toEqual({ tombstonesPurged: tombstones, idempotencyRecordsPurged: 1, purgedThrough: { t: BigInt(tombstones - 1), u: BigInt(tombstones) } });
    expect(await changesOf(storage, "t", 0n, 1_000_000n, 10)).toEqual([]);
    expect((await storage.readPosition()).purgedThrough).toEqual(result.purgedThrough);
  });
});

describe.runIf(postgresUrl)("postgres storage: data from before", () => {
  it("keeps everything across a reopen: documents, sequence, epoch, purge watermarks", async () => {
    const schema = freshSchema();
    const first = postgres(schema);
    const meta = await first.open();
    await commit(first, { changes: [stored("t", "a", 4n, { deleted: true, at: 1 }), stored("t", "b", 5n)], idempotency: [], owners: [{ clientId: "c", principal: "alice" }], lastSequence: 5n }, { sync: true });
    await first.purge(100);
    await first.close();
    const second = postgres(schema);
    const reopened = await second.open();
    expect(reopened).toEqual({ epoch: meta.epoch, lastSequence: 5n, purgedThrough: { t: 4n } });
    expect(await second.getClientOwner("c")).toBe("alice");
    expect((await changesOf(second, "t", 0n, 9n, 10)).map((c) => c.event.documentId)).toEqual(["b"]);
    expect((await second.getDocuments([{ collection: "t", documentId: "b" }]))[0]?.event.serverSequence).toBe(5n);
    await second.close();
  });

  it("adds the read rule's column to a schema from before named read rules, keeping its data, under the empty name such data sets hold", async () => {
    const schema = freshSchema();
    const first = postgres(schema);
    await first.open();
    await commit(first, { changes: [stored("t", "a", 1n)], idempotency: [], lastSequence: 1n }, { sync: true });
    await first.close();
    await withAdmin((admin) => admin.query(`ALTER TABLE "${schema}".meta DROP COLUMN read_rule`));
    const second = postgres(schema);
    expect((await second.open()).lastSequence).toBe(1n);
    expect(await second.setReadRule("")).toBe(false);
    expect(await second.setReadRule("owner-field ownerId")).toBe(true);
    expect(await second.readPosition()).toEqual({ lastSequence: 2n, purgedThrough: { t: 2n } });
    await commit(second, { changes: [stored("t", "b", 3n)], idempotency: [], lastSequence: 3n }, { sync: true });
    await second.close();
  });

  /** Turns a schema back into the layout of a server from before clustering (format 1, no client_owners). */
  async function makeLegacy(schema: string) {
    await withAdmin(async (admin) => {
      await admin.query(`DROP TABLE "${schema}".client_owners`);
      await admin.query(`DROP INDEX "${schema}".changes_sequence`);
      await admin.query(`UPDATE "${schema}".meta SET format = 1`);
    });
  }

  it("migrates a schema of a single server from before (format 1) and keeps its data", async () => {
    const schema = freshSchema();
    const first = postgres(schema);
    await first.open();
    await commit(first, { changes: [stored("t", "a", 1n), stored("u", "a", 2n)], idempotency: [], lastSequence: 2n }, { sync: true });
    await first.close();
    await makeLegacy(schema);
    // Several new servers start together: one migrates, the others find it done.
    const reopened = await Promise.all([open(schema), open(schema), open(schema)]);
    expect(reopened.map((o) => o.meta.lastSequence)).toEqual([2n, 2n, 2n]);
    const second = reopened[0]!.storage;
    expect(await second.getClientOwner("c")).toBeUndefined();
    await commit(second, { changes: [stored("t", "b", 3n)], idempotency: [], owners: [{ clientId: "c", principal: "alice" }], lastSequence: 3n }, { sync: true });
    expect(await reopened[1]!.storage.getClientOwner("c")).toBe("alice");
    expect((await reopened[2]!.storage.readCommitted!(0n, 10n, 10)).changes.map((c) => c.event.serverSequence)).toEqual([1n, 2n, 3n]);
    const after = await withAdmin((admin) => admin.query(`SELECT format, to_regclass($1) IS NOT NULL AS indexed FROM "${schema}".meta`, [`"${schema}".changes_sequence`]));
    expect(after.rows[0]).toEqual({ format: 3, indexed: true });
  });

  it("refuses to migrate while a server from before still runs on the schema, and migrates once it stopped", async () => {
    const schema = freshSchema();
    const first = postgres(schema);
    await first.open();
    await first.close();
    await makeLegacy(schema);
    await withAdmin(async (admin) => {
      // What a format-1 server holds for as long as it runs.
      await admin.query("SELECT pg_advisory_lock($1::int4, $2::int4)", legacyWriterLock(schema));
      const refused = await postgres(schema).open().then(() => undefined, (error: unknown) => error);
      expect(refused).toBeInstanceOf(LegacyServerRunning);
      expect(String(refused)).toMatch(/is in use by a Pocket Sync server from before .* stop it/);
      expect(refused).not.toBeInstanceOf(StorageUnavailableError); // an operator's matter: not retried in silence
      const format = await admin.query(`SELECT format FROM "${schema}".meta`);
      expect(format.rows[0].format).toBe(1); // nothing changed under it
    });
    const { meta } = await open(schema); // the admin session ended: the old server is gone
    expect(meta.lastSequence).toBe(0n);
  });

  it("refuses a schema of a newer format", async () => {
    const schema = freshSchema();
    await open(schema);
    await withAdmin((admin) => admin.query(`UPDATE "${schema}".meta SET format = 99`));
    await expect(postgres(schema).open()).rejects.toThrow(/holds data of a newer Pocket Sync \(format 99; this one reads 3\)/);
  });

  it("applies a batch entirely or not at all", async () => {
    const schema = freshSchema();
    const { storage } = await open(schema);
    await commit(storage, { changes: [stored("t", "a", 1n)], idempotency: [], lastSequence: 1n });
    // PostgreSQL text cannot hold NUL: the idempotency statement fails after
    // the changes were written in the same transaction.
    const bad = record(1n, { clientId: "bad\u0000id" });
    await expect(commit(storage, { changes: [stored("t", "a", 2n), stored("t", "b", 3n)], idempotency: [bad], lastSequence: 3n }, { sync: true })).rejects.toThrow();
    expect((await changesOf(storage, "t", 0n, 9n, 10)).map((c) => [c.event.documentId, c.event.serverSequence])).toEqual([["a", 1n]]);
    expect((await storage.readPosition()).lastSequence).toBe(1n);
  });

  it("fails a group whose read failed, whatever the work made of the failure", async () => {
    const schema = freshSchema();
    const { storage } = await open(schema);
    const outcome = await storage.commitGroup(async (reader, last) => {
      // A key PostgreSQL refuses (NUL), swallowed by the work.
      await reader.getClientOwner("bad\u0000id").catch(() => undefined);
      // Later reads fail the same way, not with "current transaction is aborted".
      const again = await reader.getClientOwner("fine").then(() => "read", (e: unknown) => String(e));
      return { batch: { changes: [stored("t", "a", last + 1n)], idempotency: [], lastSequence: last + 1n }, result: again };
    }, { sync: false }).then(() => "committed", (e: unknown) => String(e));
    expect(outcome).not.toBe("committed");
    expect(outcome).not.toMatch(/current transaction is aborted/);
    expect((await storage.readPosition()).lastSequence).toBe(0n);
  });
});

describe.runIf(postgresUrl)("postgres storage: riding out its database", () => {
  it("refuses writes once its LISTEN session is killed, then reconnects by itself, with what others committed meanwhile", async () => {
    const schema = freshSchema();
    const { storage } = await open(schema, { reconnectDelayMs: { first: 20, max: 100 } });
    const { storage: other } = await open(schema);
    const events: StorageEvent[] = [];
    storage.watch!((event) => events.push(event));
    await commit(storage, { changes: [stored("t", "a", 1n)], idempotency: [], lastSequence: 1n });
    const killed = await withAdmin((admin) =>
      admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [`pocket-sync ${schema} listener`]),
    );
    expect(killed.rowCount).toBe(2); // one per server
    await eventually(() => events.some((e) => e.kind === "unavailable"), 5_000, "unavailable");
    expect(events.find((e) => e.kind === "unavailable")).toEqual({ kind: "unavailable", reason: expect.stringMatching(/^lost the connection to PostgreSQL schema "pocket_test_\w+"/) });
    // Meanwhile the other server writes (it reconnects too: retry until it can).
    for (;;) {
      try {
        await commit(other, { changes: [stored("t", "b", 2n)], idempotency: [], lastSequence: 2n });
        break;
      } catch (error) {
        if (!(error instanceof StorageUnavailableError)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    await eventually(() => events.some((e) => e.kind === "available"), 5_000, "available");
    const available = events.find((e) => e.kind === "available");
    expect(available).toMatchObject({ kind: "available", meta: { lastSequence: expect.any(BigInt) } });
    await commit(storage, { changes: [stored("t", "c", 3n)], idempotency: [], lastSequence: 3n });
    expect((await changesOf(storage, "t", 0n, 10n, 10)).map((c) => c.event.documentId)).toEqual(["a", "b", "c"]);
  });

  it("notices a database that stopped answering when a pooled connection fails, and recovers once it answers again", async () => {
    // A proxy that can stop forwarding without closing anything: the
    // LISTEN session hears nothing and TCP keepalive takes long to tell.
    const target = new URL(postgresUrl!);
    let blackHole = false;
    const sockets = new Set<net.Socket>();
    /** The first connection a storage makes is its LISTEN session. */
    let listenerSocket: net.Socket | undefined;
    const proxy = net.createServer((socket) => {
      if (blackHole) {
        sockets.add(socket); // accepted, never answered
        return;
      }
      const upstream = net.connect(Number(target.port), target.hostname);
      if (listenerSocket) sockets.add(socket).add(upstream);
      else listenerSocket = socket;
      socket.on("data", (chunk) => blackHole || upstream.write(chunk));
      upstream.on("data", (chunk) => blackHole || socket.write(chunk));
      socket.on("error", () => upstream.destroy());
      upstream.on("error", () => socket.destroy());
      socket.on("close", () => upstream.destroy());
      upstream.on("close", () => socket.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const proxied = new URL(postgresUrl!);
    proxied.port = String((proxy.address() as net.AddressInfo).port);
    const schema = freshSchema();
    const storage = postgres(schema, { connectionString: proxied.toString(), connectTimeoutMs: 300, reconnectDelayMs: { first: 20, max: 200 } });
    const events: StorageEvent[] = [];
    storage.watch!((event) => events.push(event));
    try {
      await storage.open();
      await commit(storage, { changes: [stored("t", "a", 1n)], idempotency: [], lastSequence: 1n });
      blackHole = true;
      const started = Date.now();
      // The pooled connections go (the LISTEN session stays, silent): a
      // commit needs a new connection, which times out.
      for (const socket of sockets) socket.destroy();
      await expect(commit(storage, { changes: [stored("t", "b", 2n)], idempotency: [], lastSequence: 2n })).rejects.toThrow(StorageUnavailableError);
      await eventually(() => events.some((e) => e.kind === "unavailable"), 8_000, "the probe to find the session dead");
      expect(Date.now() - started).toBeLessThan(8_000);
      blackHole = false;
      await eventually(() => events.some((e) => e.kind === "available"), 8_000, "recovery");
      await commit(storage, { changes: [stored("t", "b", 2n)], idempotency: [], lastSequence: 2n });
    } finally {
      await storage.close();
      for (const socket of sockets) socket.destroy();
      listenerSocket?.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  }, 30_000);

  it("reports an unreachable database as unavailable, at open and after", async () => {
    const unreachable = postgres(freshSchema(), { connectionString: "postgres://pocket:pocket@127.0.0.1:1/pocket" });
    await expect(unreachable.open()).rejects.toThrow(StorageUnavailableError);
    await expect(unreachable.open()).rejects.toThrow(/the PostgreSQL database is unavailable: .*ECONNREFUSED/);
    await unreachable.close();
  });

  it("names its sessions after the schema, so an operator can find them", async () => {
    const schema = freshSchema();
    const { storage } = await open(schema);
    await storage.readPosition(); // opens a pooled session
    const { rows } = await withAdmin((admin) =>
      admin.query<{ application_name: string }>("SELECT application_name FROM pg_stat_activity WHERE application_name LIKE $1 ORDER BY 1", [`pocket-sync ${schema}%`]),
    );
    expect(new Set(rows.map((r) => r.application_name))).toEqual(new Set([`pocket-sync ${schema}`, `pocket-sync ${schema} listener`]));
  });
});
