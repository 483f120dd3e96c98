// Logs: JSON for machines (a pipe, a file), one readable line on a terminal.
import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { formatLogLine } from "./log-format.js";
import { startCli, stopAllClis } from "./testing-cli.js";

afterEach(stopAllClis);

describe("formatLogLine", () => {
  it("shows time, level, message, the request, status and duration, and other fields as key=value", () => {
    const time = new Date(2026, 10, 27, 9, 5, 7, 42).getTime();
    const line = JSON.stringify({
      level: 30, time, pid: 1, hostname: "h", reqId: "req-1", msg: "request completed",
      req: { method: "POST", url: "/pocket.sync.v1.SyncService/Push", remoteAddress: "127.0.0.1" },
      res: { statusCode: 200 }, responseTime: 1.234,
    });
    expect(formatLogLine(line)).toBe("09:05:07.042 INFO  request completed POST /pocket.sync.v1.SyncService/Push from 127.0.0.1 200 in 1.2 ms reqId=req-1");
  });

  it("puts an error's stack under its line, and colours only when asked", () => {
    const line = JSON.stringify({ level: 50, time: 0, msg: "purging failed", err: { message: "boom", stack: "Error: boom\n    at x" } });
    const text = formatLogLine(line);
    expect(text.split("\n")[0]).toMatch(/ERROR purging failed$/);
    expect(text).toContain("\n    Error: boom\n        at x");
    expect(text).not.toContain("\x1b[");
    expect(formatLogLine(line, true)).toContain("\x1b[31mERROR\x1b[0m");
  });

  it("keeps a line that is not JSON as it is", () => {
    expect(formatLogLine("not json\n")).toBe("not json");
  });
});

/** Starts the CLI under a pseudo-terminal (script(1)), makes one request, returns what it printed. */
async function underTerminal(args: string[]): Promise<string> {
  const command = [process.execPath, "--import", "tsx", "server/src/serve/cli.ts", "--port", "0", "--storage", "memory", ...args]
    .map((a) => `'${a}'`).join(" ");
  const child = spawn("script", ["-qec", command, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", () => {
        const m = out.match(/listening on (http:\/\/\S+)/);
        if (m) resolve(m[1]!);
      });
      child.once("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    await fetch(`${url}/healthz-not-a-route`);
    for (let i = 0; i < 100 && !/404/.test(out); i++) await new Promise((r) => setTimeout(r, 20));
    return out;
  } finally {
    // The terminal closes with script(1), and the server gets SIGHUP.
    child.kill("SIGKILL");
  }
}

describe("the server's log format", () => {
  it("is JSON, one object per line, when stdout is not a terminal", async () => {
    const cli = await startCli(["--storage", "memory"], { logLevel: "info" });
    await fetch(`${cli.url}/no-such-route`);
    for (let i = 0; i < 100 && !/"statusCode":404/.test(cli.output()); i++) await new Promise((r) => setTimeout(r, 20));
    const logs = cli.output().split("\n").filter((l) => l.startsWith("{"));
    expect(logs.length).toBeGreaterThan(0);
    for (const l of logs) expect(() => JSON.parse(l)).not.toThrow();
    expect(logs.some((l) => JSON.parse(l).res?.statusCode === 404)).toBe(true);
  });

  it("is one readable line per event on a terminal, and JSON there too with --log-format json", async () => {
    const coloured = await underTerminal(["--log-level", "info"]);
    expect(coloured).toContain("\x1b[32mINFO");
    const pretty = coloured.replace(/\x1b\[\d+m/g, "");
    expect(pretty).toMatch(/\d\d:\d\d:\d\d\.\d{3} .*INFO.* incoming request GET \/healthz-not-a-route from 127\.0\.0\.1/);
    expect(pretty).toMatch(/\d\d:\d\d:\d\d\.\d{3} .*INFO.* request completed 404 in \d+\.\d ms/);
    expect(pretty).not.toMatch(/^\{"level"/m);
    const json = await underTerminal(["--log-level", "info", "--log-format", "json"]);
    expect(json).toMatch(/^\{"level":30,.*"statusCode":404/m);
  });
});
