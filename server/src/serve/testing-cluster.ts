// Test helpers: several real server processes on one PostgreSQL schema behind
// a real HAProxy, configured by deploy/haproxy.cfg exactly as
// scripts/cluster.sh runs it. stopClusters() (for afterEach) stops them all.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startCli, type CliProcess } from "./testing-cli.js";

const HAPROXY_CONFIG = join(dirname(fileURLToPath(import.meta.url)), "../../../deploy/haproxy.cfg");

/** Whether HAProxy can be run here, and if not why. */
export function haproxyMissing(): string | undefined {
  const probe = spawnSync("haproxy", ["-v"], { encoding: "utf8" });
  return probe.error ? "haproxy is not installed (apt-get install haproxy)" : undefined;
}

export interface Cluster {
  /** The load balancer's URL: every protocol on one port. */
  readonly url: string;
  readonly servers: CliProcess[];
  readonly loadBalancer: ChildProcess;
  /** HAProxy's output so far. */
  lbOutput(): string;
}

const running = new Set<ChildProcess>();

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Three servers on `schema` (`args` added to each) behind HAProxy. Resolves
 * once the load balancer accepts connections.
 */
export async function startCluster(postgresUrl: string, schema: string, options: { args?: readonly string[]; idleTimeout?: string } = {}): Promise<Cluster> {
  const servers = await Promise.all(
    [1, 2, 3].map(() => startCli(["--storage", "postgres", "--postgres-url", postgresUrl, "--postgres-schema", schema, ...(options.args ?? [])])),
  );
  const port = await freePort();
  const hostPort = (url: string) => new URL(url).host;
  const loadBalancer = spawn("haproxy", ["-db", "-f", HAPROXY_CONFIG], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      POCKET_LB_BIND: `127.0.0.1:${port}`,
      POCKET_LB_IDLE_TIMEOUT: options.idleTimeout ?? "60s",
      POCKET_SERVER_1: hostPort(servers[0]!.url),
      POCKET_SERVER_2: hostPort(servers[1]!.url),
      POCKET_SERVER_3: hostPort(servers[2]!.url),
    },
  });
  running.add(loadBalancer);
  loadBalancer.once("exit", () => running.delete(loadBalancer));
  let out = "";
  loadBalancer.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  loadBalancer.stderr!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (loadBalancer.exitCode !== null) throw new Error(`haproxy exited: ${out}`);
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.end();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (accepted) break;
    if (Date.now() > deadline) throw new Error(`haproxy did not listen on ${port}: ${out}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `http://127.0.0.1:${port}`, servers, loadBalancer, lbOutput: () => out };
}

/** Stops every load balancer startCluster started (the servers are stopAllClis's). */
export async function stopClusters(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
}
