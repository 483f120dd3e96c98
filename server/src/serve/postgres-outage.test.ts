// The real server process on PostgreSQL while its database misbehaves under
// load: its backends killed, the whole cluster restarted, the database not
// there at start. Every push is either acknowledged and stored or refused with
// a retryable `unavailable`; health says NOT_SERVING while writes cannot
// succeed and SERVING once they can; the server recovers by itself; nothing
// acknowledged is lost, for pullers and live subscribers alike.
//
// The cluster restart disturbs every other test using the same PostgreSQL, so
// it runs only when POCKET_TEST_POSTGRES_RESTART holds the command that
// restarts it (e.g. "pg_ctlcluster 15 pocket restart"); .ci/run sets it for a
// step of its own, after the suite.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import net from "node:net";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { errorInfo } from "../../../common/src/errors.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../../gen/ts/grpc/health/v1/health_pb.js";
import { eventually, pushed, syncClient, transportFor } from "./testing.js";
import { metric, startCli, stopAllClis, type CliProcess } from "./testing-cli.js";
import { followLive, notRetryable, probeDatabase, pullAll, pullLoad, pushLoad, sleep, stopLoads, watchHealth, type Follower } from "./testing-load.js";

const postgresUrl = process.env.POCKET_TEST_POSTGRES_URL;
const restartCommand = process.env.POCKET_TEST_POSTGRES_RESTART;
/** "Within a few seconds" of the database being back (the reconnect backoff tops out at 3 s). */
const RESUME_WITHIN_MS = 6_000;

const schemas: string[] = [];
const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  await stopLoads();
  await stopAllClis();
});
afterAll(async () => {
  if (!postgresUrl || schemas.length === 0) return;
  await withAdmin(async (admin) => {
    for (const schema of schemas.splice(0)) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });
});

async function withAdmin<T>(work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end().catch(() => {});
  }
}

async function startOnPostgres(url = postgresUrl!): Promise<{ server: CliProcess; schema: string }> {
  const schema = `pocket_outage_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  schemas.push(schema);
  const server = await startCli(["--storage", "postgres", "--postgres-url", url, "--postgres-schema", schema]);
  return { server, schema };
}

/**
 * Stops the load, then checks that every refusal was a retryable
 * `unavailable` and that every acknowledged change is stored and was
 * streamed live.
 */
async function expectNothingLost(
  server: CliProcess,
  load: ReturnType<typeof pushLoad>,
  live: Follower,
  reader: ReturnType<typeof pullLoad>,
) {
  const { url } = server;
  await load.stop();
  // Still the same process: it never crashed on the way.
  expect(server.child.exitCode, server.output()).toBeNull();
  // Nothing but retryable refusals, each with its ErrorInfo: for pushes, pulls and streams.
  for (const errors of [load.refusals, reader.errors, live.errors]) {
    const wrong = notRetryable(errors);
    expect(wrong, JSON.stringify(wrong.slice(0, 5))).toEqual([]);
  }
  expect(reader.pulls).toBeGreaterThan(0);
  const all = await pullAll(url);
  for (let i = 1; i < all.sequences.length; i++) expect(all.sequences[i]! > all.sequences[i - 1]!).toBe(true);
  const missing = [...load.acknowledged].filter(([id, document]) => all.documents.get(id)?.document !== document);
  expect(missing.map(([id]) => id)).toEqual([]);
  expect(all.documents.size).toBe(load.acknowledged.size);
  // The live subscriber, reconnecting through the outage, saw them all too.
  await eventually(() => live.position >= all.visible, 10_000, "the subscriber to catch up");
  const unseen = [...load.acknowledged.keys()].filter((id) => live.latest.get(id)?.document !== load.acknowledged.get(id));
  expect(unseen).toEqual([]);
  expect(live.outOfOrder).toEqual([]);
}

if (!postgresUrl && process.env.CI) {
  describe("a PostgreSQL outage", () => {
    it("is tested in CI", () => {
      throw new Error("CI must test PostgreSQL outages: set POCKET_TEST_POSTGRES_URL (bash scripts/start-postgres.sh starts PostgreSQL and prints it)");
    });
  });
}

describe.runIf(postgresUrl)(
  postgresUrl
    ? "the real server on PostgreSQL, under load"
    : "the real server on PostgreSQL, under load: skipped, POCKET_TEST_POSTGRES_URL is not set (bash scripts/start-postgres.sh starts PostgreSQL and prints it)",
  () => {
  it("survives its backends being killed: unavailable meanwhile, NOT_SERVING then SERVING, nothing acknowledged lost", async () => {
    const { server, schema } = await startOnPostgres();
    const health = watchHealth(server.url);
    const live = followLive(server.url);
    const reader = pullLoad(server.url);
    const load = pushLoad(server.url);
    await eventually(() => load.acknowledged.size >= 300, 15_000, "some load");

    const killedAt = Date.now();
    const killed = await withAdmin((admin) =>
      admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'pocket-sync%' AND application_name LIKE '%' || $1 || '%'",
        [schema],
      ),
    );
    expect(killed.rowCount).toBeGreaterThanOrEqual(2); // the listener session and pooled ones

    await eventually(() => health.outageAfter(killedAt) !== undefined, RESUME_WITHIN_MS, "health to go NOT_SERVING, then SERVING");
    const { upAt } = health.outageAfter(killedAt)!;
    await eventually(() => load.firstAckAfter(upAt) !== undefined, RESUME_WITHIN_MS, "pushes to be acknowledged again");
    expect(load.firstAckAfter(upAt)! - killedAt).toBeLessThan(RESUME_WITHIN_MS);
    expect(load.refusals.length).toBeGreaterThan(0); // the outage was felt...
    const { downAt } = health.outageAfter(killedAt)!;
    console.log(`backends killed: NOT_SERVING after ${downAt - killedAt} ms, SERVING after ${upAt - killedAt} ms, ` +
      `pushes acknowledged again after ${load.firstAckAfter(upAt)! - killedAt} ms; ${load.refusals.length} pushes refused meanwhile`);
    expect(await metric(server.url, "pocket_sync_storage_writable")).toBe(1);
    await sleep(300); // ...and load goes on after it
    await expectNothingLost(server, load, live, reader);
    expect(server.output()).toMatch(/storage unavailable, refusing writes: lost the connection to PostgreSQL schema/);
  }, 60_000);

  it.runIf(restartCommand)(`${restartCommand ? "" : "skipped, POCKET_TEST_POSTGRES_RESTART is not set (.ci/run runs it alone, as restarting PostgreSQL breaks other tests): "}survives a PostgreSQL restart: recovers by itself within seconds of the database coming back, nothing acknowledged lost`, async () => {
    const { server } = await startOnPostgres();
    const health = watchHealth(server.url);
    const live = followLive(server.url);
    const reader = pullLoad(server.url);
    const load = pushLoad(server.url);
    await eventually(() => load.acknowledged.size >= 300, 15_000, "some load");

    const restartedAt = Date.now();
    const availability = probeDatabase(postgresUrl!);
    await promisify(execFile)("sh", ["-c", restartCommand!]);
    const { wentAwayAt, backAt } = await availability.result();
    expect(wentAwayAt).toBeGreaterThanOrEqual(restartedAt);

    await eventually(() => health.outageAfter(restartedAt) !== undefined, RESUME_WITHIN_MS, "health to go NOT_SERVING, then SERVING");
    const { downAt, upAt } = health.outageAfter(restartedAt)!;
    expect(downAt).toBeLessThan(backAt);
    expect(upAt - backAt).toBeLessThan(RESUME_WITHIN_MS);
    await eventually(() => load.firstAckAfter(upAt) !== undefined, RESUME_WITHIN_MS, "pushes to be acknowledged again");
    expect(load.firstAckAfter(upAt)! - backAt).toBeLessThan(RESUME_WITHIN_MS);
    expect(load.refusals.some((r) => r.at >= restartedAt && r.at <= backAt)).toBe(true);
    expect(reader.errors.length).toBeGreaterThan(0); // pulls failed too while PostgreSQL was down
    console.log(`PostgreSQL away for ${backAt - wentAwayAt} ms: NOT_SERVING after ${downAt - restartedAt} ms, ` +
      `SERVING ${upAt - backAt} ms and pushes acknowledged ${load.firstAckAfter(upAt)! - backAt} ms after it was back; ` +
      `${load.refusals.length} pushes refused meanwhile`);
    await sleep(300);
    await expectNothingLost(server, load, live, reader);
  }, 90_000);

  it("starts while the database is unreachable: one log line per attempt, NOT_SERVING and unavailable until it is there", async () => {
    // A port with nothing behind it yet; later it forwards to PostgreSQL.
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const target = new URL(postgresUrl!);
    const proxied = new URL(postgresUrl!);
    proxied.port = String(port);
    const { server } = await startOnPostgres(proxied.toString());

    const health = createClient(Health, transportFor(server.url, "grpc"));
    expect((await health.check({ service: "" })).status).toBe(Status.NOT_SERVING);
    expect(await metric(server.url, "pocket_sync_storage_writable")).toBe(0);
    const client = syncClient(server.url);
    for (const call of [client.push({ clientId: "c", changes: [pushed("early", {}, 1)] }), client.pull({ collections: ["todos"] })]) {
      const error = await call.then(() => undefined, (e: unknown) => ConnectError.from(e));
      expect(error?.code).toBe(Code.Unavailable);
      expect(errorInfo(error)?.reason).toBe("ERROR_REASON_UNAVAILABLE");
      expect(error?.rawMessage).toMatch(/has not reached its storage yet.*ECONNREFUSED/);
    }
    await eventually(() => (server.output().match(/storage unavailable, refusing writes: .*ECONNREFUSED.*; retrying in \d+\.\d s/g) ?? []).length >= 2, 10_000, "a log line per attempt");

    const proxy = net.createServer((socket) => {
      const upstream = net.connect(Number(target.port), target.hostname);
      socket.pipe(upstream).pipe(socket);
      socket.on("error", () => upstream.destroy());
      upstream.on("error", () => socket.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(port, "127.0.0.1", resolve));
    stops.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
    const reachableAt = Date.now();

    await eventually(async () => (await health.check({ service: "" })).status === Status.SERVING, RESUME_WITHIN_MS, "SERVING");
    expect(Date.now() - reachableAt).toBeLessThan(RESUME_WITHIN_MS);
    const pushedNow = await client.push({ clientId: "c", changes: [pushed("late", {}, 1)] });
    expect(pushedNow.results[0]?.outcome.case).toBe("accepted");
    await server.stop(); // before the proxy closes under it
  }, 60_000);
});
