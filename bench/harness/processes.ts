// Child processes of a bench run: workers that host a role module (load
// generators, baselines) and answer calls over IPC. Every child is tracked so
// that nothing outlives the run, even when it fails.
import { fork, type ChildProcess } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const ROOT = resolve(BENCH_DIR, "..");
const WORKER_MAIN = join(BENCH_DIR, "harness/worker-main.ts");

const live = new Set<ChildProcess>();

/** Registers a child so that stopAll() and process exit end it. */
export function track(child: ChildProcess): void {
  live.add(child);
  child.once("exit", () => live.delete(child));
}

/** Kills every child still running (SIGKILL: used on failure and at exit). */
export function killAll(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  live.clear();
}
process.once("exit", killAll);

export interface Worker {
  readonly name: string;
  readonly pid: number;
  call<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
  /** Ends the worker: calls its `close` handler if it has one, then disconnects. */
  stop(): Promise<void>;
}

interface Reply {
  readonly id?: number;
  readonly ready?: boolean;
  readonly result?: unknown;
  readonly error?: { message: string; stack?: string };
}

/**
 * Starts a worker process for `role` (a path relative to bench/), e.g.
 * "generators/wire.ts". Resolves once the role module has loaded.
 */
export async function startWorker(role: string, name = role, options: { nodeArgs?: readonly string[] } = {}): Promise<Worker> {
  const child = fork(WORKER_MAIN, [join(BENCH_DIR, role)], {
    cwd: ROOT,
    execArgv: [...(options.nodeArgs ?? []), "--import", "tsx"],
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  track(child);
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited: Error | undefined;

  await new Promise<void>((ready, failed) => {
    child.on("message", (reply: Reply) => {
      if (reply.ready) return ready();
      const call = pending.get(reply.id!);
      if (!call) return;
      pending.delete(reply.id!);
      if (reply.error) {
        const error = new Error(`${name}: ${reply.error.message}`);
        if (reply.error.stack) error.stack = `${error.message}\n  in worker: ${reply.error.stack}`;
        call.reject(error);
      } else {
        call.resolve(reply.result);
      }
    });
    child.once("exit", (code, signal) => {
      exited = new Error(`worker ${name} exited (${signal ?? `code ${code}`})`);
      failed(exited);
      for (const call of pending.values()) call.reject(exited);
      pending.clear();
    });
  });

  function call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (exited) return Promise.reject(exited);
    const id = nextId++;
    return new Promise<T>((resolveCall, rejectCall) => {
      pending.set(id, { resolve: resolveCall as (v: unknown) => void, reject: rejectCall });
      child.send({ id, method, args });
    });
  }

  return {
    name,
    pid: child.pid!,
    call,
    async stop() {
      if (exited) return;
      const gone = new Promise((r) => child.once("exit", r));
      try {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([call("close"), new Promise((r) => (timer = setTimeout(r, 10_000)))]).finally(() => clearTimeout(timer));
      } catch {
        // no close handler, or it failed: disconnecting ends the worker anyway
      }
      if (child.connected) child.disconnect();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Starts `count` workers of one role at once (their startup overlaps). */
export function startWorkers(role: string, count: number, name = role): Promise<Worker[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => startWorker(role, `${name}#${i + 1}`)));
}

export async function stopAll(workers: readonly Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.stop()));
}
