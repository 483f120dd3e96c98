// Three real server processes on one PostgreSQL schema behind a real HAProxy
// (deploy/haproxy.cfg), as `scripts/cluster.sh` runs them. Clients push
// through the load balancer and straight to each server, pull and subscribe
// through either, and every one of them must end with every change exactly
// once, in sequence order, and the very state the database holds; a server
// killed with SIGKILL mid-load loses nothing acknowledged and its subscribers
// resume elsewhere; the load balancer's timeouts never cut a stream kept alive
// by heartbeats; a server stopped with SIGTERM (a rolling restart) is left
// without anything cut; a PostgreSQL restart is ridden out by all three.
//
// Needs POCKET_TEST_POSTGRES_URL and haproxy; skipped with a reason without
// them, failed in CI. The restart case runs only with
// POCKET_TEST_POSTGRES_RESTART (see postgres-outage.test.ts), alone, in .ci/run.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { decodeEvent } from "../storage/codec.js";
import { dropSchemas, freshSchema, withAdmin } from "../storage/testing.js";
import { eventually, syncClient, type ProtocolVariant } from "./testing.js";
import { metric, stopAllClis } from "./testing-cli.js";
import { haproxyMissing, startCluster, stopClusters } from "./testing-cluster.js";
import { followLive, followPulls, probeDatabase, pushLoad, sleep, stopLoads, watchHealth, type Follower } from "./testing-load.js";

const postgresUrl = process.env.POCKET_TEST_POSTGRES_URL;
const restartCommand = process.env.POCKET_TEST_POSTGRES_RESTART;
const missing = !postgresUrl ? "POCKET_TEST_POSTGRES_URL is not set (bash scripts/start-postgres.sh starts PostgreSQL and prints it)" : haproxyMissing();

afterEach(async () => {
  await stopLoads();
  await stopClusters();
  await stopAllClis();
});
afterAll(dropSchemas);

/** What the database holds: each document's latest change, and the committed counter. */
async function databaseState(schema: string): Promise<{ documents: Map<string, ChangeEvent>; lastSequence: bigint }> {
  return withAdmin(async (admin) => {
    const rows = await admin.query<{ event: Buffer }>(`SELECT event FROM "${schema}".changes WHERE collection = 'todos'`);
    const meta = await admin.query<{ last_sequence: string }>(`SELECT last_sequence FROM "${schema}".meta`);
    const documents = new Map(rows.rows.map(({ event }) => {
      const change = decodeEvent(event);
      return [change.documentId, change] as const;
    }));
    return { documents, lastSequence: BigInt(meta.rows[0]!.last_sequence) };
  });
}

/**
 * Every follower caught up with the database, holds exactly its state, saw
 * changes only in sequence order and none twice, and saw the latest change
 * of every document (no change missed).
 */
async function expectConverged(followers: readonly Follower[], schema: string) {
  const db = await databaseState(schema);
  await eventually(() => followers.every((f) => f.position >= db.lastSequence), 15_000, "every client to catch up with the database");
  const expected = [...db.documents.values()].map((c) => `${c.documentId}@${c.serverSequence}:${c.revision}:${c.document}`).sort();
  for (const follower of followers) {
    expect(follower.outOfOrder, follower.name).toEqual([]);
    const duplicates = follower.received.filter((r, i) => follower.received.indexOf(r) !== i);
    expect(duplicates, follower.name).toEqual([]);
    const held = [...follower.latest.values()].map((c) => `${c.documentId}@${c.serverSequence}:${c.revision}:${c.document}`).sort();
    expect(held, follower.name).toEqual(expected);
  }
  return db;
}

if (missing && process.env.CI) {
  describe("servers behind a load balancer", () => {
    it("are tested in CI", () => {
      throw new Error(`CI must test servers behind HAProxy: ${missing}`);
    });
  });
}

describe.skipIf(missing)(`servers behind a load balancer${missing ? ` (skipped: ${missing})` : ""}`, () => {
  it("give every client, through the load balancer or straight to a server, every change exactly once, in order, and the database's state", async () => {
    const schema = freshSchema("pocket_lb");
    const cluster = await startCluster(postgresUrl!, schema, { args: ["--heartbeat-ms", "500"] });
    const [s1, s2, s3] = cluster.servers.map((s) => s.url) as [string, string, string];
    const lbVariants: ProtocolVariant[] = ["connect-proto-h2", "grpc", "grpc-web-h1", "connect-json-h1", "grpc-web-h2"];
    const followers = [
      ...lbVariants.map((variant) => followLive(cluster.url, variant, `subscribe ${variant} via the load balancer`)),
      followLive(s1, "grpc", "subscribe grpc to s1"),
      followLive(s2, "connect-json-h1", "subscribe connect-json to s2"),
      followLive(s3, "grpc-web-h1", "subscribe grpc-web to s3"),
      followPulls(cluster.url, "connect-proto-h2", "pull connect-proto via the load balancer"),
      followPulls(cluster.url, "grpc", "pull grpc via the load balancer"),
      followPulls(s2, "connect-json-h1", "pull connect-json from s2"),
    ];
    // Writers through the load balancer and straight to each server; half
    // of each batch updates the writer's previous documents.
    const load = pushLoad([cluster.url, s1, s2, s3], { writers: 8, updates: true, variants: ["connect-proto-h2", "grpc", "connect-json-h1", "grpc-web-h1"] });
    await eventually(() => load.acknowledged.size >= 600, 30_000, "some load");
    await load.stop();
    expect(load.refusals).toEqual([]);
    const db = await expectConverged(followers, schema);
    for (const follower of followers) expect(follower.errors, follower.name).toEqual([]);
    // What was acknowledged is what is stored.
    for (const [id, document] of load.acknowledged) expect(db.documents.get(id)?.document, id).toBe(document);
    expect(db.documents.size).toBe(load.acknowledged.size);
    // Every server took pushes and held streams.
    for (const server of cluster.servers) {
      expect(await metric(server.url, "pocket_sync_pushes_total"), server.url).toBeGreaterThan(0);
      expect(await metric(server.url, "pocket_sync_subscribers"), server.url).toBeGreaterThan(0);
    }
  }, 90_000);

  it("lose nothing acknowledged when a server is killed with SIGKILL mid-load: its subscribers resume through the load balancer from their checkpoints", async () => {
    const schema = freshSchema("pocket_lb");
    const cluster = await startCluster(postgresUrl!, schema, { args: ["--heartbeat-ms", "500"] });
    const variants: ProtocolVariant[] = ["connect-proto-h2", "grpc", "grpc-web-h1", "connect-json-h1", "grpc-web-h2", "grpc"];
    const followers = [
      ...variants.map((variant, i) => followLive(cluster.url, variant, `subscriber ${i} (${variant})`)),
      followPulls(cluster.url, "connect-json-h1", "puller"),
    ];
    await eventually(async () => (await Promise.all(cluster.servers.map((s) => metric(s.url, "pocket_sync_subscribers")))).every((n) => n >= 1), 10_000, "streams on every server");
    const victim = cluster.servers[1]!;
    const onVictim = await metric(victim.url, "pocket_sync_subscribers");
    const load = pushLoad(cluster.url, { writers: 6, updates: true });
    await eventually(() => load.acknowledged.size >= 400, 30_000, "some load");
    const killedAt = Date.now();
    await victim.stop("SIGKILL");
    await eventually(() => load.firstAckAfter(killedAt + 2_500) !== undefined, 20_000, "pushes acknowledged well after the kill");
    const acknowledgedAtKill = load.pushes;
    await eventually(() => load.pushes >= acknowledgedAtKill + 20, 20_000, "more load after the kill");
    await load.stop();
    // Refused pushes were retried with the same keys until acknowledged. A
    // call cut by the kill fails as the transport saw it: the load balancer's
    // 502/503 (unavailable), an HTTP/2 stream it reset (internal), or an
    // HTTP/1.1 connection it closed (ECONNRESET, which connect-node calls
    // aborted). The client cannot know whether the push was applied, hence
    // the same keys. Never as a client's mistake, nor as anything else.
    const cut = ["Unavailable", "Internal", "Aborted", "Unknown", "Canceled"];
    expect(load.refusals.filter((r) => !cut.includes(r.code))).toEqual([]);
    const db = await expectConverged(followers, schema);
    for (const [id, document] of load.acknowledged) expect(db.documents.get(id)?.document, id).toBe(document);
    expect(db.documents.size).toBe(load.acknowledged.size);
    // The victim's subscribers lost their streams and resumed elsewhere.
    const resumed = followers.filter((f) => f.resumed > 0).length;
    expect(resumed).toBeGreaterThanOrEqual(onVictim);
    expect(onVictim).toBeGreaterThan(0);
    const codes = [...new Set(load.refusals.map((r) => r.code))].join(", ");
    console.log(`SIGKILL of one of three servers: ${onVictim} streams on it, ${resumed} clients resumed, ${load.refusals.length} pushes refused (${codes}) and retried, ${load.acknowledged.size} documents acknowledged, none lost`);
  }, 90_000);

  it("let an operator stop a server with SIGTERM mid-load (a rolling restart): its calls finish or fail as unavailable, its streams resume elsewhere, nothing lost", async () => {
    const schema = freshSchema("pocket_lb");
    const cluster = await startCluster(postgresUrl!, schema, { args: ["--heartbeat-ms", "500"] });
    const variants: ProtocolVariant[] = ["connect-proto-h2", "grpc", "grpc-web-h1", "connect-json-h1", "grpc-web-h2", "grpc"];
    const followers = [
      ...variants.map((variant, i) => followLive(cluster.url, variant, `subscriber ${i} (${variant})`)),
      followPulls(cluster.url, "grpc", "puller"),
    ];
    await eventually(async () => (await Promise.all(cluster.servers.map((s) => metric(s.url, "pocket_sync_subscribers")))).every((n) => n >= 1), 10_000, "streams on every server");
    const stopped = cluster.servers[0]!;
    const onStopped = await metric(stopped.url, "pocket_sync_subscribers");
    const load = pushLoad(cluster.url, { writers: 6, updates: true });
    await eventually(() => load.acknowledged.size >= 400, 30_000, "some load");
    const stoppedAt = Date.now();
    await stopped.stop("SIGTERM");
    expect(stopped.child.exitCode, stopped.output()).toBe(0);
    await eventually(() => load.firstAckAfter(stoppedAt + 2_500) !== undefined, 20_000, "pushes acknowledged well after the stop");
    await load.stop();
    // A graceful stop answers every request it already took; what reaches
    // it afterwards is refused by the load balancer as unavailable (503),
    // never cut as unknown or internal.
    const codes = [...new Set(load.refusals.map((r) => r.code))].join(", ");
    expect(load.refusals.filter((r) => r.code !== "Unavailable")).toEqual([]);
    const db = await expectConverged(followers, schema);
    for (const [id, document] of load.acknowledged) expect(db.documents.get(id)?.document, id).toBe(document);
    expect(db.documents.size).toBe(load.acknowledged.size);
    expect(onStopped).toBeGreaterThan(0);
    expect(followers.filter((f) => f.resumed > 0).length).toBeGreaterThanOrEqual(onStopped);
    console.log(`SIGTERM of one of three servers: ${onStopped} streams on it resumed elsewhere, ${load.refusals.length} pushes refused (${codes || "none"}) and retried, none lost`);
  }, 90_000);

  it("never cut a Subscribe stream kept alive by heartbeats, though they cut a silent one", async () => {
    const schema = freshSchema("pocket_lb");
    // A short idle timeout, so the test need not wait a minute: streams with
    // heartbeats well inside it live on; a stream asking for heartbeats
    // slower than it is cut, which shows the timeout is real.
    const cluster = await startCluster(postgresUrl!, schema, { idleTimeout: "1500ms" });
    const variants: ProtocolVariant[] = ["connect-proto-h2", "grpc", "grpc-web-h1", "connect-json-h1"];
    const stream = (variant: ProtocolVariant, heartbeatMs: number) => {
      const abort = new AbortController();
      let heartbeats = 0;
      const ended = (async () => {
        try {
          for await (const message of syncClient(cluster.url, variant).subscribe({ collections: ["todos"], heartbeatIntervalMs: heartbeatMs }, { signal: abort.signal })) {
            if (message.event.case === "heartbeat") heartbeats++;
          }
          return "ended";
        } catch (error) {
          return abort.signal.aborted ? "aborted" : `failed: ${String(error)}`;
        }
      })();
      return { stop: () => abort.abort(), ended, heartbeats: () => heartbeats };
    };
    const alive = variants.map((variant) => stream(variant, 400));
    const silent = stream("connect-proto-h2", 5_000);
    await sleep(4_000);
    expect(await Promise.race([silent.ended, sleep(2_000).then(() => "still open")])).toMatch(/^(failed|ended)/);
    for (const s of alive) {
      expect(await Promise.race([s.ended, Promise.resolve("open")])).toBe("open");
      expect(s.heartbeats()).toBeGreaterThanOrEqual(5);
      s.stop();
      expect(await s.ended).toBe("aborted");
    }
  }, 30_000);

  it.runIf(restartCommand)("ride out a PostgreSQL restart under load through the load balancer: all recover by themselves, nothing acknowledged lost", async () => {
    const schema = freshSchema("pocket_lb");
    const cluster = await startCluster(postgresUrl!, schema, { args: ["--heartbeat-ms", "500"] });
    const followers = [
      ...(["connect-proto-h2", "grpc", "grpc-web-h1", "connect-json-h1"] as const).map((variant) => followLive(cluster.url, variant)),
      followPulls(cluster.url),
    ];
    const health = cluster.servers.map((server) => watchHealth(server.url));
    const load = pushLoad(cluster.url, { writers: 6, updates: true });
    await eventually(() => load.acknowledged.size >= 300, 30_000, "some load");
    const restartedAt = Date.now();
    const availability = probeDatabase(postgresUrl!);
    await promisify(execFile)("sh", ["-c", restartCommand!]);
    const { backAt } = await availability.result();
    expect(backAt).toBeGreaterThan(restartedAt);
    await eventually(() => load.firstAckAfter(backAt) !== undefined, 15_000, "pushes acknowledged again");
    // Every server went NOT_SERVING (so the load balancer sent nothing to
    // it) and is SERVING again by itself, and takes pushes.
    await eventually(() => health.every((h) => h.outageAfter(restartedAt) !== undefined), 15_000, "every server NOT_SERVING, then SERVING");
    await eventually(async () => (await Promise.all(cluster.servers.map((s) => metric(s.url, "pocket_sync_storage_writable")))).every((w) => w === 1), 10_000, "every server writable");
    const before = load.pushes;
    await eventually(() => load.pushes >= before + 20, 20_000, "load after the restart");
    await load.stop();
    // Refused only as retryable: by a server (with its ErrorInfo) or by the
    // load balancer while no server was SERVING (HTTP 503).
    expect(load.refusals.filter((r) => r.code !== "Unavailable")).toEqual([]);
    expect(load.refusals.length).toBeGreaterThan(0);
    const db = await expectConverged(followers, schema);
    for (const [id, document] of load.acknowledged) expect(db.documents.get(id)?.document, id).toBe(document);
    for (const server of cluster.servers) expect(server.child.exitCode, server.output()).toBeNull();
    console.log(`PostgreSQL restart behind the load balancer: pushes acknowledged again ${load.firstAckAfter(backAt)! - backAt} ms after it was back; ${load.refusals.length} pushes refused and retried`);
  }, 120_000);
});
