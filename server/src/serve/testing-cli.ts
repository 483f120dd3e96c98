// Test helpers for the command-line server as a real process: start it on a
// free port, read its output and its /metrics, run it to a failing exit.
import { execFile, spawn, type ChildProcess } from "node:child_process";

const CLI = ["--import", "tsx", "server/src/serve/cli.ts"];

export interface CliProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything the process wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Stops the process (SIGKILL unless told otherwise) and waits for its exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<ChildProcess>();

/** Kills every process started by startCli that is still running (for afterEach). */
export async function stopAllClis(): Promise<void> {
  await Promise.all([...running].map((child) => killAndWait(child, "SIGKILL")));
}

function killAndWait(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill(signal);
  });
}

/** Starts the CLI on a free port and resolves once it says it listens. */
export async function startCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; logLevel?: string } = {}): Promise<CliProcess> {
  const child = spawn(process.execPath, [...CLI, "--port", "0", "--log-level", options.logLevel ?? "warn", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
  });
  running.add(child);
  child.once("exit", () => running.delete(child));
  let out = "";
  const collect = (chunk: Buffer) => {
    out += chunk.toString();
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const url = await new Promise<string>((resolve, reject) => {
    const look = () => {
      const match = out.match(/listening on (http:\/\/\S+)/);
      if (match) {
        child.stdout!.off("data", look);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", look);
    child.once("exit", (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  return { child, url, output: () => out, stop: (signal = "SIGKILL") => killAndWait(child, signal) };
}

/** Runs the CLI to its exit (it is expected to refuse to start). */
export async function runCliToExit(args: readonly string[], timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...CLI, ...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? ((error as { code?: unknown }).code as number | null) : 0;
      resolve({ code: typeof code === "number" ? code : null, stdout, stderr });
    });
  });
}

/** The value of one unlabelled metric from the server's /metrics. */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no metric ${name} at ${url}/metrics`);
  return Number(line.slice(name.length + 1));
}
