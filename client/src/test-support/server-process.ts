// Test support (not part of the client's API): runs the reference server as a
// child process, as a real deployment would, and kills or restarts it. The
// client never imports server code; tests reach the server only over the wire.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const CLI = join(ROOT, "server/src/serve/cli.ts");

export interface ServerOptions {
  /** Extra flags, e.g. ["--conflict-strategy", "merge"]. */
  readonly args?: readonly string[];
  readonly storage?: "level" | "memory";
}

export class ServerProcess {
  private child: ChildProcess | null = null;
  private port = 0;
  url = "";
  output = "";
  readonly dataDir: string;

  constructor(private readonly options: ServerOptions = {}) {
    this.dataDir = mkdtempSync(join(tmpdir(), "pocket-server-"));
  }

  /** Starts the server (on the same port as before, after a restart). */
  async start(): Promise<string> {
    const args = [
      "--import",
      "tsx",
      CLI,
      "--port",
      String(this.port),
      "--host",
      "127.0.0.1",
      "--data-dir",
      join(this.dataDir, "data"),
      "--storage",
      this.options.storage ?? "level",
      "--log-level",
      "warn",
      ...(this.options.args ?? []),
    ];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${this.output}`)), 15_000);
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        const match = /listening on (http:\/\/[^\s]+)/.exec(this.output);
        if (match) {
          clearTimeout(timer);
          resolveUrl(match[1]!);
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${this.output}`));
      });
    });
    this.url = url.replace(/\/$/, "");
    this.port = Number(new URL(this.url).port);
    return this.url;
  }

  /** kill -9: no graceful shutdown, as in a crash. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    this.child = null;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export async function startServer(options: ServerOptions = {}): Promise<ServerProcess> {
  const server = new ServerProcess(options);
  await server.start();
  return server;
}

/** Polls `check` until it returns true (conditions, not fixed sleeps). */
export async function waitFor(check: () => boolean | Promise<boolean>, what = "condition", timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
