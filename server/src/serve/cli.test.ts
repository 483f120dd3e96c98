// The command-line server as a real process: killed without warning, it keeps
// every acknowledged push; buf curl talks to it.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { pushed, syncClient, tempDir } from "./testing.js";

const children: ChildProcess[] = [];
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function startCli(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "server/src/serve/cli.ts", "--port", "0", "--log-level", "warn", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = out.match(/listening on (http:\/\/\S+)/);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  return { child, url };
}

describe.each(["process", "fsync"])("with durability %s", (durability) => {
  it("loses no acknowledged push when the process is killed", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const first = await startCli(["--data-dir", dir.path, "--durability", durability]);
    const client = syncClient(first.url);
    // Concurrent pushes, so fsync mode groups them into shared writes.
    await Promise.all(Array.from({ length: 4 }, (_, w) =>
      (async () => {
        for (let i = 1; i <= 15; i++) await client.push({ clientId: `w${w}`, changes: [pushed(`w${w}-${i}`, { i }, i)] });
      })(),
    ));
    first.child.kill("SIGKILL");
    await new Promise((resolve) => first.child.once("exit", resolve));

    const second = await startCli(["--data-dir", dir.path, "--durability", durability]);
    const pulled = await syncClient(second.url).pull({ collections: ["todos"], limit: 1000 });
    expect(pulled.changes.length).toBe(60);
    expect(new Set(pulled.changes.map((c) => c.serverSequence)).size).toBe(60);
  });
});

describe("the command line", () => {
  it("answers buf curl", async () => {
    const { url } = await startCli(["--storage", "memory"]);
    const { stdout } = await promisify(execFile)("npx", [
      "buf", "curl", "--schema", ".", "--protocol", "connect", "--http2-prior-knowledge",
      "--data", '{"collections":["todos"]}', `${url}/pocket.sync.v1.SyncService/Pull`,
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ checkpoint: { epoch: expect.any(String) } });
  }, 60_000);

  it("refuses a malformed or missing token file at start with one line naming file and line", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const tokens = join(dir.path, "tokens");
    writeFileSync(tokens, "good-token alice\n# fine\nbad-token bob collections=\n");
    for (const [path, expected] of [[tokens, `${tokens}:3: "" is not a collection name`], [join(dir.path, "absent"), "cannot read the token file"]] as const) {
      const result = await promisify(execFile)(process.execPath, ["--import", "tsx", "server/src/serve/cli.ts", "--storage", "memory", "--port", "0", "--token-file", path]).then(
        () => ({ code: 0, stderr: "" }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(expected);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  it("refuses bad flags with a clear message", async () => {
    const result = await promisify(execFile)(process.execPath, ["--import", "tsx", "server/src/serve/cli.ts", "--storage", "floppy"]).catch((e) => e);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--storage must be level, memory or postgres, got "floppy"');
  });
});
