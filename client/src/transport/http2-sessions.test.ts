// A GOAWAY on an idle HTTP/2 session, with the next request made the moment it
// arrives, as happens to every Node client on gRPC when our server shuts down
// gracefully. Each run is its own process: what is at stake is the process.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const RACE = join(dirname(fileURLToPath(import.meta.url)), "../test-support/goaway-race.ts");

function race(manager: "plain" | "safe") {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", RACE, manager], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("exit", (code) => resolve({ code, output }));
  });
}

describe("GOAWAY on an idle HTTP/2 session", () => {
  it("connect-node's own session manager lets the late session error kill the process (connect-es#1768: drop our manager once this fails)", async () => {
    const { code, output } = await race("plain");
    expect(output).toContain("received GOAWAY without any open streams");
    expect(output).not.toContain("exited cleanly");
    expect(code).not.toBe(0);
  }, 20_000);

  it("ours answers the next request on a new session and the process lives on", async () => {
    const { code, output } = await race("safe");
    expect(output).toBe("first: 200\nsecond: 200\nexited cleanly\n");
    expect(code).toBe(0);
  }, 20_000);
});
