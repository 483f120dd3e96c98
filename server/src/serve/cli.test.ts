// The command-line server as a real process: killed without warning, it keeps
// every acknowledged push; buf curl talks to it.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorInfo } from "../../../common/src/errors.js";
import { signToken } from "./hmac-token.js";
import { pushed, syncClient, tempDir } from "./testing.js";
import { runCliToExit, startCli as start, stopAllClis } from "./testing-cli.js";

const cleanups: Array<() => void> = [];
afterEach(async () => {
  await stopAllClis();
  for (const cleanup of cleanups.splice(0)) cleanup();
});
const startCli = (args: string[]) => start(args, { logLevel: "warn" });
function scratchDir(): string {
  const d = tempDir();
  cleanups.push(d.remove);
  return d.path;
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
    await first.stop("SIGKILL");

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
    // A malformed file is a mistake in the configuration (2, like a bad flag);
    // a missing one is something the server cannot start without (1).
    for (const [path, expected, status] of [[tokens, `${tokens}:3: "" is not a collection name`, 2], [join(dir.path, "absent"), "cannot read the token file", 1]] as const) {
      const result = await promisify(execFile)(process.execPath, ["--import", "tsx", "server/src/serve/cli.ts", "--storage", "memory", "--port", "0", "--token-file", path]).then(
        () => ({ code: 0, stderr: "" }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(result.code).toBe(status);
      expect(result.stderr).toContain(expected);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  it("refuses bad flags with a clear message", async () => {
    const result = await promisify(execFile)(process.execPath, ["--import", "tsx", "server/src/serve/cli.ts", "--storage", "floppy"]).catch((e) => e);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--storage must be level, memory or postgres, got "floppy"');
    const owner = await promisify(execFile)(process.execPath, ["--import", "tsx", "server/src/serve/cli.ts", "--owner-field", "_rev"]).catch((e) => e);
    expect(owner.code).toBe(2);
    expect(owner.stderr).toContain('--owner-field "_rev" is a reserved key');
    for (const [specs, expected] of [["todos", 'index "todos" has no dot'], ["todos.list,,", "has an empty entry"], ["9lives.x", "is not a collection name"]] as const) {
      const index = await promisify(execFile)(process.execPath, ["--import", "tsx", "server/src/serve/cli.ts", "--storage", "memory", "--index", specs]).catch((e) => e);
      expect(index.code, specs).toBe(2);
      expect(index.stderr).toContain(expected);
      expect(index.stderr.trim().split("\n")).toHaveLength(1);
    }
  });
});

describe("revocation under traffic, against the server process", () => {
  const HEARTBEAT_MS = 1000;
  const SLACK_MS = 500;
  const SECRET = "revocation-test-secret-0123456789";

  /**
   * Opens a stream with `token` while a writer pushes to its collection every
   * ~20 ms, calls `revoke`, and returns what happened. `effectiveAt` resolves
   * to when the server has taken the revocation in (from then on, no push
   * sent may be delivered).
   */
  async function revokeUnderTraffic(url: string, token: string, revoke: () => void, effectiveAt: () => Promise<number>) {
    const writer = syncClient(url, "connect-proto-h2", "writer-token");
    const sentAt = new Map<string, number>();
    let writing = true;
    const writes = (async () => {
      for (let i = 1; writing; i++) {
        const id = `w-${i}`;
        sentAt.set(id, Date.now());
        await writer.push({ clientId: "writer-laptop", changes: [pushed(id, { i }, i)] });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const delivered: string[] = [];
    let ended: unknown;
    const stream = (async () => {
      try {
        for await (const message of syncClient(url, "grpc", token).subscribe({ collections: ["todos"], heartbeatIntervalMs: HEARTBEAT_MS })) {
          if (message.event.case === "changes") delivered.push(...message.event.value.changes.map((c) => c.documentId));
        }
      } catch (error) {
        ended = error;
      }
    })();
    const deadline = Date.now() + 10_000;
    while (delivered.length < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(delivered.length).toBeGreaterThanOrEqual(10); // the stream is busy
    const revokedAt = Date.now();
    revoke();
    const effective = await effectiveAt();
    await Promise.race([stream, new Promise((r) => setTimeout(r, 5_000))]);
    const endedAt = Date.now();
    await new Promise((r) => setTimeout(r, 200)); // traffic goes on after the end
    writing = false;
    await writes;
    const late = [...sentAt].filter(([, at]) => at > effective).map(([id]) => id);
    return { ended, delivered, late, revokedAt, effective, endedAt };
  }

  it("ends a busy stream within a heartbeat interval once its token line is deleted, delivering nothing pushed after", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const tokens = join(dir.path, "tokens");
    writeFileSync(tokens, "watcher-token watcher\nwriter-token writer\n");
    const { url } = await startCli(["--storage", "memory", "--token-file", tokens, "--hmac-secret", SECRET, "--heartbeat-ms", String(HEARTBEAT_MS)]);
    const watcher = syncClient(url, "connect-json-h1", "watcher-token");
    const result = await revokeUnderTraffic(url, "watcher-token", () => writeFileSync(tokens, "writer-token writer\n"), async () => {
      // The server has loaded the edit once it refuses the token on a call.
      for (;;) {
        try {
          await watcher.pull({ collections: ["todos"], limit: 1 });
        } catch (error) {
          expect(ConnectError.from(error).code).toBe(Code.Unauthenticated);
          return Date.now();
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    expect(ConnectError.from(result.ended).code).toBe(Code.Unauthenticated);
    expect(errorInfo(result.ended)?.reason).toBe("ERROR_REASON_UNAUTHENTICATED");
    expect(result.endedAt - result.revokedAt).toBeLessThanOrEqual(HEARTBEAT_MS + SLACK_MS);
    expect(result.late.length).toBeGreaterThan(0);
    expect(result.delivered.filter((id) => result.late.includes(id))).toEqual([]);
  }, 30_000);

  it("ends a busy stream within a heartbeat interval once its HMAC token expires, delivering nothing pushed after", async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const tokens = join(dir.path, "tokens");
    writeFileSync(tokens, "writer-token writer\n");
    const { url } = await startCli(["--storage", "memory", "--token-file", tokens, "--hmac-secret", SECRET, "--heartbeat-ms", String(HEARTBEAT_MS)]);
    const expiresAtMs = (Math.floor(Date.now() / 1000) + 3) * 1000;
    const token = signToken(SECRET, { sub: "watcher", exp: expiresAtMs / 1000 });
    const result = await revokeUnderTraffic(url, token, () => {}, async () => {
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAtMs - Date.now())));
      return expiresAtMs;
    });
    expect(ConnectError.from(result.ended).code).toBe(Code.Unauthenticated);
    expect(result.endedAt - expiresAtMs).toBeLessThanOrEqual(HEARTBEAT_MS + SLACK_MS);
    expect(result.late.length).toBeGreaterThan(0);
    expect(result.delivered.filter((id) => result.late.includes(id))).toEqual([]);
  }, 30_000);
});

/**
 * What an operator sees when the server cannot start: exactly one line on
 * stderr naming the problem, no stack trace, a non-zero exit status.
 */
async function refusal(args: string[]) {
  const result = await runCliToExit(["--log-level", "warn", ...args]);
  const lines = result.stderr.split("\n").filter(Boolean);
  expect(lines, result.stderr).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at |node:internal|Error:/);
  expect(result.stdout).toBe("");
  return { code: result.code, line: lines[0]! };
}

describe("the command line refuses to start with one clear line", () => {
  it.each([
    [["--prot", "8080"], /^pocket-sync-server: Unknown option '--prot' \(pocket-sync-server --help lists the options\)$/],
    [["--storage", "memory", "stray"], /Unexpected argument 'stray'/],
    [["--storage", "memory", "--port"], /Option '--port <value>' argument missing/],
    [["--storage", "memory", "--port", "70000"], /--port must be at most 65535, got 70000/],
    [["--storage", "memory", "--log-level", "loud"], /--log-level must be one of fatal, error, warn, info, debug, trace, silent, got "loud"/],
    [["--storage", "memory", "--tombstone-retention-ms", "1000", "--record-retention-ms", "999"], /--record-retention-ms must be at least the tombstone retention/],
    [["--storage", "memory", "--record-retention-ms", "3600000"], /--record-retention-ms must be at least the tombstone retention/],
  ])("a command-line mistake %j: exit status 2", async (args, message) => {
    const { code, line } = await refusal(args);
    expect(code).toBe(2);
    expect(line).toMatch(message);
  });

  it("a port in use", async () => {
    const first = await startCli(["--storage", "memory"]);
    const port = new URL(first.url).port;
    const { code, line } = await refusal(["--storage", "memory", "--port", port]);
    expect(code).toBe(1);
    expect(line).toBe(`pocket-sync-server: port ${port} on 127.0.0.1 is already in use (another server?); stop it or choose another --port`);
  });

  it("a missing or unreadable token file", async () => {
    const missing = join(scratchDir(), "tokens.txt");
    const gone = await refusal(["--storage", "memory", "--port", "0", "--token-file", missing]);
    expect(gone.code).toBe(1);
    expect(gone.line).toBe(`pocket-sync-server: cannot read the token file ${missing} (--token-file): no such file or directory`);
    const directory = scratchDir();
    const notAFile = await refusal(["--storage", "memory", "--port", "0", "--token-file", directory]);
    expect(notAFile.code).toBe(1);
    expect(notAFile.line).toBe(`pocket-sync-server: cannot read the token file ${directory} (--token-file): is a directory, not a file`);
  });

  it("an unusable data directory", async () => {
    const file = join(scratchDir(), "not-a-directory");
    writeFileSync(file, "");
    const isFile = await refusal(["--port", "0", "--data-dir", file]);
    expect(isFile.code).toBe(1);
    expect(isFile.line).toBe(`pocket-sync-server: cannot use the data directory ${file} (--data-dir): exists and is not a directory`);
    const below = await refusal(["--port", "0", "--data-dir", join(file, "data")]);
    expect(below.code).toBe(1);
    expect(below.line).toBe(`pocket-sync-server: cannot use the data directory ${join(file, "data")} (--data-dir): a part of the path is not a directory`);
  });

  it("a data directory another server is using", async () => {
    const data = scratchDir();
    await startCli(["--data-dir", data]);
    const { code, line } = await refusal(["--port", "0", "--data-dir", data]);
    expect(code).toBe(1);
    expect(line).toMatch(new RegExp(`^pocket-sync-server: cannot start on LevelDB in ${data}: .*LOCK`));
  });
});
