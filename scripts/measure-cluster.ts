// Measures several servers on one PostgreSQL (docs/SCALING.md): push
// throughput and live fan-out capacity with 1, 2 and 3 server processes,
// clients spread over them, and what PostgreSQL spends meanwhile; and what
// NOTIFY costs per commit at the commit rates reached. Short on purpose: the
// bench harness (bench/) is the place for the full set.
//
//   node --import tsx scripts/measure-cluster.ts --postgres-url URL [--instances 1,2,3]
//        [--mode push,fanout,notify,latency] [--seconds 8] [--writers 48] [--subscribers 300]
//        [--server-cpu 0.3] [--fanout-writers 48] [--rates 400,800] [--profile DIR]
//
// --server-cpu caps each server process at that many cores (a Linux cgroup;
// run as root): N servers then have N times the CPU of one, as N machines
// would, even on a small shared machine, and the server tier's scaling shows
// apart from the clients' and PostgreSQL's. --profile writes each server's
// V8 CPU profile into DIR (node --cpu-prof). --rates fixes the offered
// change rates of the fan-out steps (default: doubling until saturation): at
// a rate every instance count sustains, the servers' CPU seconds per second
// compare what the same fan-out costs on 1, 2 and 3 servers.
//
// --json prints the results as one JSON object on the last line of stdout
// (for npm run bench's cluster workload, bench/workloads/cluster.ts).
//
// --mode latency: how long a change takes from the start of its push to a
// live subscriber, on the server that committed it and on the others (one
// subscriber per server, one push at a time every 20 ms, servers in turn):
// the cross-server path is commit, NOTIFY, the other server's read of the
// changes, its fan-out.
//
// Every run uses a fresh schema (dropped at the end). Use a PostgreSQL no one
// else is loading. Figures: changes/s committed, deliveries/s (changes x
// subscribers that received them), CPU seconds per second of the servers,
// the client process and PostgreSQL's backends.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import pg from "pg";
import { pushed, syncClient } from "../server/src/serve/testing.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { SubscribeRequestSchema } from "../gen/ts/pocket/sync/v1/sync_pb.js";

const { values } = parseArgs({
  options: {
    "postgres-url": { type: "string" },
    instances: { type: "string", default: "1,2,3" },
    mode: { type: "string", default: "push,fanout,notify,latency" },
    seconds: { type: "string", default: "8" },
    writers: { type: "string", default: "48" },
    subscribers: { type: "string", default: "300" },
    "server-cpu": { type: "string" },
    "fanout-writers": { type: "string", default: "48" },
    rates: { type: "string" },
    profile: { type: "string" },
    json: { type: "boolean" },
  },
});
const url = values["postgres-url"] ?? process.env.POCKET_POSTGRES_URL;
if (!url) throw new Error("--postgres-url URL (or env POCKET_POSTGRES_URL) is required");
const seconds = Number(values.seconds);
const instanceCounts = values.instances.split(",").map(Number);
const modes = new Set(values.mode.split(","));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- CPU accounting from /proc --------------------------------------------

const TICKS = 100; // USER_HZ on Linux
function cpuOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}
/** The measured PostgreSQL cluster's "version/name", as its processes' titles show it (Debian's pg_lsclusters). */
function clusterTitle(port: string): string {
  const listed = spawnSync("pg_lsclusters", ["-h"], { encoding: "utf8" }).stdout ?? "";
  const line = listed.split("\n").map((l) => l.split(/\s+/)).find((f) => f[2] === port);
  return line ? `${line[0]}/${line[1]}` : "";
}
/** CPU seconds of every process of the measured PostgreSQL cluster (postmaster, backends, WAL writer...). */
function postgresCpu(title: string): number {
  if (!title) return 0;
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(title)) total += cpuOf(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}
function meter(pids: () => number[], cluster: string) {
  const start = { servers: pids().reduce((s, p) => s + cpuOf(p), 0), client: process.cpuUsage(), db: postgresCpu(cluster), at: performance.now() };
  return () => {
    const wall = (performance.now() - start.at) / 1000;
    const client = process.cpuUsage(start.client);
    return {
      wall,
      servers: (pids().reduce((s, p) => s + cpuOf(p), 0) - start.servers) / wall,
      client: (client.user + client.system) / 1e6 / wall,
      postgres: (postgresCpu(cluster) - start.db) / wall,
    };
  };
}
const fmt = (n: number, digits = 0) => n.toFixed(digits);

// ---- servers --------------------------------------------------------------

interface Server {
  readonly child: ChildProcess;
  readonly url: string;
  readonly cgroup?: string;
}

/** Puts `pid` in a cgroup of its own capped at `cores` (cgroup v2 or v1). Returns its directory. */
function capCpu(pid: number, cores: number): string {
  const name = `pocket_measure_${process.pid}_${pid}`;
  const quota = Math.round(cores * 100_000);
  if (existsSync("/sys/fs/cgroup/cgroup.controllers")) {
    const dir = `/sys/fs/cgroup/${name}`;
    mkdirSync(dir);
    writeFileSync(`${dir}/cpu.max`, `${quota} 100000`);
    writeFileSync(`${dir}/cgroup.procs`, String(pid));
    return dir;
  }
  const dir = `/sys/fs/cgroup/cpu/${name}`;
  mkdirSync(dir);
  writeFileSync(`${dir}/cpu.cfs_period_us`, "100000");
  writeFileSync(`${dir}/cpu.cfs_quota_us`, String(quota));
  writeFileSync(`${dir}/cgroup.procs`, String(pid));
  return dir;
}
const serverCpu = values["server-cpu"] === undefined ? undefined : Number(values["server-cpu"]);

// Whatever happens, no server process or cgroup outlives the measurement.
const started = new Set<Server>();
function cleanUp() {
  for (const server of started) {
    server.child.kill("SIGKILL");
    if (server.cgroup) {
      try {
        rmdirSync(server.cgroup);
      } catch {
        // the process may not have gone yet; the kernel keeps the empty group
      }
    }
  }
}
process.on("exit", cleanUp);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(1));
async function startServers(count: number, schema: string): Promise<Server[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const profile = values.profile ? ["--cpu-prof", "--cpu-prof-dir", values.profile] : [];
      const child = spawn(process.execPath, [...profile, "--import", "tsx", "server/src/serve/cli.ts", "--storage", "postgres", "--postgres-url", url!, "--postgres-schema", schema, "--port", "0", "--log-level", "warn"], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const serverUrl = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout!.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          const match = out.match(/listening on (http:\/\/\S+)/);
          if (match) resolve(match[1]!);
        });
        child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
      });
      const server = { child, url: serverUrl, cgroup: serverCpu ? capCpu(child.pid!, serverCpu) : undefined };
      started.add(server);
      return server;
    }),
  );
}
async function stopServers(servers: Server[]) {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
    s.child.once("exit", () => resolve());
    s.child.kill("SIGTERM");
  })));
  for (const server of servers) {
    if (server.cgroup) rmdirSync(server.cgroup);
    started.delete(server);
  }
}
async function withSchema<T>(work: (schema: string) => Promise<T>): Promise<T> {
  const schema = `measure_${Date.now()}_${process.pid}`;
  try {
    return await work(schema);
  } finally {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
}
const dbCluster = clusterTitle(new URL(url).port || "5432");

// ---- push throughput ------------------------------------------------------

async function measurePush(count: number) {
  return withSchema(async (schema) => {
    const servers = await startServers(count, schema);
    const writers = Number(values.writers);
    let running = true;
    let changes = 0;
    const latencies: number[] = [];
    const clients = Array.from({ length: writers }, (_, w) => syncClient(servers[w % count]!.url, "connect-proto-h2"));
    // Warm up, then measure.
    const loops = clients.map(async (client, w) => {
      for (let sequence = 0; running; ) {
        const batch = Array.from({ length: 10 }, () => pushed(`w${w}-${++sequence}`, { w, sequence, pad: "x".repeat(100) }, sequence));
        const at = performance.now();
        await client.push({ clientId: `writer-${w}`, changes: batch });
        latencies.push(performance.now() - at);
        changes += batch.length;
      }
    });
    await sleep(1_500);
    changes = 0;
    latencies.length = 0;
    const done = meter(() => servers.map((s) => s.child.pid!), dbCluster);
    await sleep(seconds * 1000);
    const cpu = done();
    const committed = changes;
    running = false;
    await Promise.all(loops);
    latencies.sort((a, b) => a - b);
    const groups = await groupsPerSecond(schema);
    await stopServers(servers);
    return { instances: count, changesPerSecond: committed / cpu.wall, p50: latencies[Math.floor(latencies.length / 2)]!, p99: latencies[Math.floor(latencies.length * 0.99)]!, cpu, groups };
  });
}
/** Commit groups per second over the run, from PostgreSQL's transaction counter delta is noisy; counted from sequences instead. */
async function groupsPerSecond(schema: string) {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const { rows } = await admin.query(`SELECT last_sequence FROM "${schema}".meta`);
  await admin.end();
  return Number(rows[0].last_sequence);
}

// ---- fan-out capacity -----------------------------------------------------

/** Subscribers in worker threads (scripts/measure-subscribers.mjs), spread over `urls`. */
async function startSubscribers(urls: readonly string[], total: number, threads: number) {
  const shared = new SharedArrayBuffer(threads * 4 * 8);
  const request = toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { collections: ["todos"], heartbeatIntervalMs: 10_000 }));
  const counters = new BigInt64Array(shared);
  const per = Math.ceil(total / threads);
  const workers = Array.from({ length: threads }, (_, slot) => {
    const first = slot * per;
    return new Worker(new URL("./measure-subscribers.mjs", import.meta.url), {
      workerData: { urls, first, count: Math.max(0, Math.min(per, total - first)), slot, shared, request },
    });
  });
  const sum = (offset: number) => Array.from({ length: threads }, (_, w) => Atomics.load(counters, w * 4 + offset)).reduce((a, b) => a + b, 0n);
  return {
    delivered: () => Number(sum(0)),
    messages: () => Number(sum(3)),
    open: () => Number(sum(2)),
    /** The lowest sequence every subscriber has reached. */
    reached: () => Array.from({ length: threads }, (_, w) => Atomics.load(counters, w * 4 + 1)).reduce((a, b) => (a < b ? a : b)),
    async stop() {
      await Promise.all(workers.map((worker) => new Promise<void>((resolve) => {
        worker.once("exit", () => resolve());
        worker.postMessage("stop");
      })));
    },
  };
}

async function measureFanout(count: number) {
  return withSchema(async (schema) => {
    const servers = await startServers(count, schema);
    const subscribers = Number(values.subscribers);
    const pool = await startSubscribers(servers.map((s) => s.url), subscribers, 2);
    const openDeadline = performance.now() + 30_000;
    while (pool.open() < subscribers && performance.now() < openDeadline) await sleep(50);
    if (pool.open() < subscribers) throw new Error(`only ${pool.open()} of ${subscribers} streams opened`);
    const writer = servers.map((s) => syncClient(s.url, "connect-proto-h2"));
    const results: Array<{ rate: number; deliveriesPerSecond: number; messagesPerSecond: number; expected: number; lagMs: number; cpu: ReturnType<ReturnType<typeof meter>> }> = [];
    let sequence = 0;
    // Offered rates of pushed changes per second, doubling until the
    // subscribers fall behind: W writers, each a batch of 10 every 10 W / rate s.
    const writers = Number(values["fanout-writers"]);
    // From one batch per writer every 2 s: each step's window sees every writer push.
    const ladder: number[] = [];
    for (let rate = Math.max(100, writers * 5); rate <= 51_200; rate *= 2) ladder.push(rate);
    const fixed = values.rates?.split(",").map(Number);
    for (const rate of fixed ?? ladder) {
      let running = true;
      let pushedChanges = 0;
      let lastAcked = 0n;
      let lastAckedAt = 0;
      const pushing = Promise.all(Array.from({ length: writers }, async (_, w) => {
        const interval = (10_000 * writers) / rate;
        let next = performance.now() + (w * interval) / writers;
        await sleep(next - performance.now());
        for (let i = w; running; i += writers) {
          const batch = Array.from({ length: 10 }, () => pushed(`d${++sequence}`, { sequence }, sequence));
          const response = await writer[i % count]!.push({ clientId: `fanout-writer-${w}`, changes: batch });
          const result = response.results.at(-1)!.outcome;
          if (result.case === "accepted" && result.value.serverSequence > lastAcked) {
            lastAcked = result.value.serverSequence;
            lastAckedAt = performance.now();
          }
          pushedChanges += batch.length;
          next += interval;
          const wait = next - performance.now();
          if (wait > 0) await sleep(wait);
        }
      }));
      await sleep(500);
      const startDelivered = pool.delivered();
      const startMessages = pool.messages();
      const startPushed = pushedChanges;
      const done = meter(() => servers.map((s) => s.child.pid!), dbCluster);
      await sleep(seconds * 1000);
      const cpu = done();
      const deliveries = pool.delivered() - startDelivered;
      const messages = pool.messages() - startMessages;
      const offered = pushedChanges - startPushed;
      running = false;
      // Lag: how long after the last acknowledged push every subscriber had it.
      const target = lastAcked;
      const ackedAt = lastAckedAt;
      const deadline = performance.now() + 10_000;
      while (pool.reached() < target && performance.now() < deadline) await sleep(2);
      const lagMs = performance.now() - ackedAt;
      await pushing;
      results.push({ rate: offered / cpu.wall, deliveriesPerSecond: deliveries / cpu.wall, messagesPerSecond: messages / cpu.wall, expected: (offered * subscribers) / cpu.wall, lagMs, cpu });
      if (fixed) continue;
      if (deliveries < 0.9 * offered * subscribers || lagMs > 1_000) break; // saturated
      if (rate >= 800 && offered / cpu.wall < 0.6 * rate) break; // the writers cannot offer more
    }
    await pool.stop();
    await stopServers(servers);
    return { instances: count, subscribers, results };
  });
}

// ---- fan-out latency ------------------------------------------------------

/** Milliseconds from the start of each push to its arrival at a subscriber, by where the subscriber is. */
async function measureLatency(count: number) {
  return withSchema(async (schema) => {
    const servers = await startServers(count, schema);
    const pushedAt = new Map<string, { at: number; server: number }>();
    const samples = { same: [] as number[], other: [] as number[] };
    const abort = new AbortController();
    let open = 0;
    const streams = servers.map(async (server, s) => {
      try {
        for await (const message of syncClient(server.url, "connect-proto-h2").subscribe({ collections: ["todos"], heartbeatIntervalMs: 10_000 }, { signal: abort.signal })) {
          if (message.event.case !== "changes") continue;
          if (message.event.value.caughtUp && message.event.value.changes.length === 0) open++;
          const now = performance.now();
          for (const change of message.event.value.changes) {
            const origin = pushedAt.get(change.documentId);
            if (origin) (origin.server === s ? samples.same : samples.other).push(now - origin.at);
          }
        }
      } catch (error) {
        if (!abort.signal.aborted) throw error;
      }
    });
    const deadline = performance.now() + 10_000;
    while (open < count && performance.now() < deadline) await sleep(20);
    const writers = servers.map((server) => syncClient(server.url, "connect-proto-h2"));
    const until = performance.now() + seconds * 1000;
    for (let i = 1; performance.now() < until; i++) {
      const s = i % count;
      const id = `l${i}`;
      pushedAt.set(id, { at: performance.now(), server: s });
      await writers[s]!.push({ clientId: "latency-writer", changes: [pushed(id, { i }, i)] });
      await sleep(20);
    }
    await sleep(500);
    abort.abort();
    await Promise.all(streams);
    await stopServers(servers);
    const pct = (list: number[], q: number) => [...list].sort((a, b) => a - b)[Math.min(list.length - 1, Math.floor(list.length * q))] ?? NaN;
    const summary = (list: number[]) => ({ n: list.length, p50: pct(list, 0.5), p90: pct(list, 0.9), p99: pct(list, 0.99) });
    return { instances: count, same: summary(samples.same), other: summary(samples.other), pushes: pushedAt.size };
  });
}

// ---- NOTIFY cost ----------------------------------------------------------

type NotifyMode = "none" | "in the commit" | "after the commit";

/**
 * The commit transaction's shape on raw connections, one session per server
 * (3), each also LISTENing: without NOTIFY, with pg_notify inside the
 * transaction that holds the counter row, or sent after its COMMIT on the
 * LISTEN session (asynchronous commit).
 */
async function measureNotify(mode: NotifyMode) {
  return withSchema(async (schema) => {
    const connect = async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    };
    const setup = await connect();
    await setup.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".meta (id int PRIMARY KEY, last_sequence bigint); INSERT INTO "${schema}".meta VALUES (1, 0);
      CREATE TABLE "${schema}".changes (server_sequence bigint PRIMARY KEY, event bytea)`);
    const channel = `measure_${process.pid}`;
    let heard = 0;
    let running = true;
    let commits = 0;
    const servers = await Promise.all(Array.from({ length: 3 }, async () => {
      const [session, listener] = await Promise.all([connect(), connect()]);
      await listener.query(`SET synchronous_commit = off; LISTEN ${channel}`);
      listener.on("notification", () => heard++);
      return { session, listener };
    }));
    const payload = Buffer.alloc(2_000); // a group's batch of changes
    const loops = servers.map(async ({ session: c, listener }) => {
      while (running) {
        const opened = (await c.query(`BEGIN; SELECT last_sequence FROM "${schema}".meta WHERE id = 1 FOR UPDATE`)) as unknown as pg.QueryResult[];
        const next = BigInt(opened[1]!.rows[0].last_sequence) + 1n;
        const values = [next.toString(), payload];
        if (mode === "in the commit") {
          await c.query(`WITH w AS (INSERT INTO "${schema}".changes VALUES ($1, $2)), m AS (UPDATE "${schema}".meta SET last_sequence = $1 WHERE id = 1 RETURNING 1) SELECT pg_notify($3, $4) FROM m`, [...values, channel, `epoch ${next}`]);
        } else {
          await c.query(`WITH w AS (INSERT INTO "${schema}".changes VALUES ($1, $2)) UPDATE "${schema}".meta SET last_sequence = $1 WHERE id = 1`, values);
        }
        await c.query("COMMIT");
        if (mode === "after the commit") await listener.query("SELECT pg_notify($1, $2)", [channel, `epoch ${next}`]);
        commits++;
      }
    });
    await sleep(1_000);
    commits = 0;
    heard = 0;
    const started = performance.now();
    await sleep(seconds * 1000);
    const elapsed = (performance.now() - started) / 1000;
    const rate = commits / elapsed;
    const heardRate = heard / elapsed;
    running = false;
    await Promise.all(loops);
    await Promise.all([...servers.flatMap((s) => [s.session, s.listener]), setup].map((c) => c.end()));
    return { mode, commitsPerSecond: rate, heardPerSecond: heardRate };
  });
}

// ---- run --------------------------------------------------------------------

/** Everything measured, for --json. */
const results: Record<string, unknown> = {};
if (modes.has("push")) {
  const rows = [];
  for (const n of instanceCounts) rows.push(await measurePush(n));
  results.push = rows.map(({ instances, changesPerSecond, p50, p99 }) => ({ instances, changesPerSecond, p50, p99 }));
  const base = rows[0]!.changesPerSecond;
  console.log(`\npush throughput: ${values.writers} writers in closed loop, batches of 10 inserts (~150 B documents), ${seconds} s`);
  console.log("instances | changes/s | ratio | push p50 / p99 ms | CPU s/s: servers, PostgreSQL, clients");
  for (const r of rows) {
    console.log(`${r.instances} | ${fmt(r.changesPerSecond)} | ${fmt(r.changesPerSecond / base, 2)}x | ${fmt(r.p50, 1)} / ${fmt(r.p99, 1)} | ${fmt(r.cpu.servers, 2)}, ${fmt(r.cpu.postgres, 2)}, ${fmt(r.cpu.client, 2)}`);
  }
}
if (modes.has("fanout")) {
  const rows = [];
  for (const n of instanceCounts) rows.push(await measureFanout(n));
  console.log(`\nfan-out: ${values.subscribers} subscribers spread over the instances, ${values["fanout-writers"]} writers at rising rates (batches of 10), ${seconds} s per step`);
  console.log("instances | offered changes/s | deliveries/s (expected) | messages/s | lag ms | CPU s/s: servers, PostgreSQL, clients | server CPU µs per delivery");
  for (const r of rows) {
    for (const step of r.results) {
      console.log(`${r.instances} | ${fmt(step.rate)} | ${fmt(step.deliveriesPerSecond)} (${fmt(step.expected)}) | ${fmt(step.messagesPerSecond)} | ${fmt(step.lagMs)} | ${fmt(step.cpu.servers, 2)}, ${fmt(step.cpu.postgres, 2)}, ${fmt(step.cpu.client, 2)} | ${fmt((step.cpu.servers * 1e6) / step.deliveriesPerSecond, 2)}`);
    }
  }
  const capacity = rows.map((r) => Math.max(...r.results.filter((s) => s.deliveriesPerSecond >= 0.9 * s.expected && s.lagMs <= 1_000).map((s) => s.deliveriesPerSecond), 0));
  results.fanout = rows.map((r, i) => ({ instances: r.instances, capacity: capacity[i]! }));
  console.log(`sustained fan-out capacity (deliveries/s): ${rows.map((r, i) => `${r.instances}: ${fmt(capacity[i]!)} (${fmt(capacity[i]! / capacity[0]!, 2)}x)`).join(", ")}`);
}
if (modes.has("notify")) {
  console.log(`\nNOTIFY cost: commit transactions serialized on a counter row (FOR UPDATE, a 2 kB insert, the counter update, COMMIT), 3 sessions each with a LISTENing one, ${seconds} s`);
  const notify: Array<Awaited<ReturnType<typeof measureNotify>>> = [];
  results.notify = notify;
  for (const mode of ["none", "in the commit", "after the commit"] as const) {
    const r = await measureNotify(mode);
    notify.push(r);
    console.log(`NOTIFY ${mode} | ${fmt(r.commitsPerSecond)} commits/s | ${fmt(r.heardPerSecond)} notifications heard/s`);
  }
}
if (modes.has("latency")) {
  const rows = [];
  for (const n of instanceCounts) rows.push(await measureLatency(n));
  results.latency = rows;
  console.log(`\nfan-out latency: one subscriber per server, one push of one change every 20 ms (servers in turn), ${seconds} s; ms from the push's start to the subscriber`);
  console.log("instances | subscriber on | deliveries | p50 | p90 | p99");
  for (const r of rows) {
    for (const [where, m] of [["the committing server", r.same], ["another server", r.other]] as const) {
      if (m.n) console.log(`${r.instances} | ${where} | ${m.n} | ${fmt(m.p50, 1)} | ${fmt(m.p90, 1)} | ${fmt(m.p99, 1)}`);
    }
  }
}
if (values.json) console.log(JSON.stringify(results));
