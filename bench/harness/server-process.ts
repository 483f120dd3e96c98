// The Pocket Sync server under test, started exactly as `npm start` runs it
// (server/src/serve/cli.ts under tsx) in its own process, on LevelDB in a
// fresh temp directory. Node flags go in front of the script, so the profile
// (--cpu-prof) and the GC hook see the same code path users run.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuSeconds, rssKiB } from "./proc.js";
import { BENCH_DIR, ROOT, track } from "./processes.js";

const CLI = join(ROOT, "server/src/serve/cli.ts");
const GC_HOOK = join(BENCH_DIR, "harness/gc-hook.ts");
let started = 0;

export interface ServerOptions {
  /** Names the profile file. */
  readonly label: string;
  /** Extra CLI flags, e.g. ["--durability", "fsync"]. */
  readonly args?: readonly string[];
  /** Lets the bench force a GC (SIGUSR2) before reading RSS. */
  readonly gcHook?: boolean;
  /** Writes a V8 CPU profile of the whole server life into this directory. */
  readonly profileDir?: string;
}

export interface GcFigures {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

export class BenchServer {
  private output = "";
  private gcWaiters: Array<(figures: GcFigures) => void> = [];
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly dataDir: string,
    private readonly options: ServerOptions,
    private readonly profileName: string,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(options: ServerOptions): Promise<BenchServer> {
    const dataDir = mkdtempSync(join(tmpdir(), "pocket-bench-server-"));
    const profileName = `${options.label.replace(/[^A-Za-z0-9_-]/g, "_")}.${process.pid}.${++started}.cpuprofile`;
    // Each thread writes its own profile (tsx's loader runs in a worker
    // thread): Node's default file names tell them apart by thread id, and a
    // fixed --cpu-prof-name would let the loader's overwrite the server's.
    const threadProfiles = options.profileDir ? join(options.profileDir, `${profileName}.threads`) : undefined;
    if (threadProfiles) mkdirSync(threadProfiles, { recursive: true });
    const nodeArgs = [
      ...(options.gcHook ? ["--expose-gc"] : []),
      ...(threadProfiles ? ["--cpu-prof", "--cpu-prof-dir", threadProfiles] : []),
    ];
    const args = [
      ...nodeArgs,
      "--import",
      "tsx",
      // after tsx, which lets Node load a .ts module
      ...(options.gcHook ? ["--import", GC_HOOK] : []),
      CLI,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--data-dir",
      join(dataDir, "data"),
      "--log-level",
      "warn",
      ...(options.args ?? []),
    ];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    track(child);
    let output = "";
    let server: BenchServer | undefined;
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${output}`)), 60_000);
      child.stdout!.on("data", (chunk: Buffer) => {
        const text = chunk.toString();
        if (server) return server.onStdout(text);
        output += text;
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!.replace(/\/$/, ""));
        }
      });
      child.stderr!.on("data", (chunk: Buffer) => {
        if (server) server.output += chunk.toString();
        else output += chunk.toString();
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`server exited (${signal ?? `code ${code}`}) before listening:\n${output}`));
      });
    });
    server = new BenchServer(child, url, dataDir, options, profileName);
    server.output = output;
    return server;
  }

  private stdoutBuffer = "";
  private onStdout(text: string): void {
    this.stdoutBuffer += text;
    let newline: number;
    while ((newline = this.stdoutBuffer.indexOf("\n")) >= 0) {
      const line = this.stdoutBuffer.slice(0, newline);
      this.stdoutBuffer = this.stdoutBuffer.slice(newline + 1);
      if (line.startsWith("bench-gc ")) {
        const figures = JSON.parse(line.slice("bench-gc ".length)) as GcFigures;
        for (const waiter of this.gcWaiters.splice(0)) waiter(figures);
      } else if (this.output.length < 100_000) {
        this.output += `${line}\n`;
      }
    }
  }

  /** Forces a full GC in the server (needs gcHook) and returns its heap figures. */
  gc(): Promise<GcFigures> {
    if (!this.options.gcHook) return Promise.reject(new Error("server started without the GC hook"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("server did not answer the GC signal in 30 s")), 30_000);
      this.gcWaiters.push((figures) => {
        clearTimeout(timer);
        resolve(figures);
      });
      this.child.kill("SIGUSR2");
    });
  }

  rssKiB(): number {
    return rssKiB(this.pid);
  }

  cpuSeconds(): number {
    return cpuSeconds(this.pid);
  }

  /** The LevelDB directory the server writes (readable once it has stopped). */
  get levelDir(): string {
    return join(this.dataDir, "data");
  }

  removeData(): void {
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** What the server wrote to stderr (and stdout other than bench lines). */
  get log(): string {
    return this.output;
  }

  /**
   * Graceful stop (SIGTERM), so that a CPU profile gets written; SIGKILL after
   * 30 s. Returns the profile's path when profiling. Removes the data unless
   * asked to keep it (then removeData() does).
   */
  async stop(options: { keepData?: boolean } = {}): Promise<{ profile?: string }> {
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    }
    if (!options.keepData) this.removeData();
    const dir = this.options.profileDir;
    if (!dir) return {};
    return mainThreadProfile(dir, this.profileName);
  }
}

/**
 * Keeps the main thread's profile (`CPU.<date>.<time>.<pid>.0.<seq>.cpuprofile`,
 * thread id 0) as `dir/name`, and drops the other threads'.
 */
function mainThreadProfile(dir: string, name: string): { profile?: string } {
  const threads = join(dir, `${name}.threads`);
  const main = readdirSync(threads).find((file) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(file));
  if (main) renameSync(join(threads, main), join(dir, name));
  rmSync(threads, { recursive: true, force: true });
  return main ? { profile: join(dir, name) } : {};
}
