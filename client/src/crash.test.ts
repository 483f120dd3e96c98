// The client process killed (-9) between a server's answer and the local
// write that records it: restarted on the same LevelDB directory, it loses
// nothing, applies nothing twice, and the server commits each change once.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckpointSchema, SyncService, type ChangeEvent } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { startServer, type ServerProcess } from "./test-support/server-process.js";

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "test-support/crash-client.ts");
const DOCS = 1000;

function runClient(dir: string, url: string, collection: string, mode: string, crashAt = 0) {
  return new Promise<{ signal: NodeJS.Signals | null; code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir, url, collection, mode, String(crashAt)], {
      env: { ...process.env, DOCS: String(DOCS) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("exit", (code, signal) => resolve({ code, signal, output }));
  });
}

function summary(output: string): { pending: number; revisions: Record<string, string> } {
  return JSON.parse(output.trim().split("\n").at(-1)!);
}

/** Every change the server holds for `collection`, from the beginning. */
async function serverChanges(url: string, collection: string): Promise<ChangeEvent[]> {
  const client = createClient(SyncService, createConnectTransport({ baseUrl: url }));
  const out: ChangeEvent[] = [];
  let checkpoint = create(CheckpointSchema);
  for (;;) {
    const res = await client.pull({ collections: [collection], checkpoint, limit: 1000 });
    out.push(...res.changes);
    checkpoint = res.checkpoint ?? checkpoint;
    if (!res.hasMore) return out;
  }
}

describe("client crash", () => {
  let server: ServerProcess;
  const dirs: string[] = [];
  const freshDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "pocket-crash-client-"));
    dirs.push(dir);
    return dir;
  };
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("killed before storing a push's acknowledgements, it pushes the same changes again and the server commits each once", async () => {
    const dir = freshDir();
    const crashed = await runClient(dir, server.url, "pushcrash", "insert-push", 3);
    expect(crashed.signal, crashed.output).toBe("SIGKILL");
    expect(crashed.output).toContain("crashing before write 3");
    // The third push was committed by the server, its acknowledgement never
    // stored; the fourth may be on the wire already (results are stored while
    // the next batch travels).
    const committed = new Set((await serverChanges(server.url, "pushcrash")).map((c) => c.documentId)).size;
    expect(committed).toBeGreaterThanOrEqual(300);
    expect(committed).toBeLessThanOrEqual(400);

    const finished = await runClient(dir, server.url, "pushcrash", "finish");
    expect(finished.code, finished.output).toBe(0);
    const { pending, revisions } = summary(finished.output);
    expect(pending).toBe(0);
    const changes = await serverChanges(server.url, "pushcrash");
    expect(changes).toHaveLength(DOCS);
    // One commit per document: a change applied twice would have a second sequence and revision.
    expect(Math.max(...changes.map((c) => Number(c.serverSequence)))).toBeLessThanOrEqual(Number(changes[0]!.serverSequence) + DOCS - 1);
    for (const c of changes) expect(revisions[c.documentId]).toBe(c.revision);
  }, 60_000);

  it("killed before storing a pulled page, it resumes from the last stored checkpoint and ends with every document", async () => {
    const source = freshDir();
    const pushed = await runClient(source, server.url, "pullcrash", "insert-push");
    expect(pushed.code, pushed.output).toBe(0);

    const dir = freshDir();
    const crashed = await runClient(dir, server.url, "pullcrash", "pull", 4);
    expect(crashed.signal, crashed.output).toBe("SIGKILL");
    const finished = await runClient(dir, server.url, "pullcrash", "finish");
    expect(finished.code, finished.output).toBe(0);
    const { pending, revisions } = summary(finished.output);
    expect(pending).toBe(0);
    const changes = await serverChanges(server.url, "pullcrash");
    expect(Object.keys(revisions)).toHaveLength(DOCS);
    for (const c of changes) expect(revisions[c.documentId]).toBe(c.revision);
  }, 60_000);
});
