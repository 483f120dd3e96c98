// The one port for HTTP/1.1 and HTTP/2, against the real server process, at
// the byte level: clients that close their side early.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { syncClient, tempDir } from "./testing.js";
import { startCli, stopAllClis, type CliProcess } from "./testing-cli.js";

const cleanups: Array<() => void> = [];
afterEach(async () => {
  await stopAllClis();
  for (const cleanup of cleanups.splice(0)) cleanup();
});
// LevelDB, as deployed: its writes take long enough for the FIN to arrive
// before the answer is ready.
async function start(): Promise<CliProcess> {
  const dir = tempDir();
  cleanups.push(dir.remove);
  return startCli(["--data-dir", dir.path]);
}

/** Writes `request` on a fresh connection, half-closes it, and reads all that comes back until the server closes. */
function sendAndHalfClose(url: string, request: string): Promise<{ response: string; ms: number }> {
  const { hostname, port } = new URL(url);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.end(request));
    let response = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (response += chunk));
    socket.once("error", reject);
    socket.once("close", () => resolve({ response, ms: Date.now() - started }));
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no close within 10 s; got: ${JSON.stringify(response)}`)));
  });
}

function connectJsonPost(method: string, body: object): string {
  const json = JSON.stringify(body);
  return [
    `POST /pocket.sync.v1.SyncService/${method} HTTP/1.1`,
    "Host: localhost",
    "Content-Type: application/json",
    "Connect-Protocol-Version: 1",
    `Content-Length: ${Buffer.byteLength(json)}`,
    "",
    json,
  ].join("\r\n");
}

describe("a client that half-closes its connection (FIN) after its request", () => {
  it("still gets the answer to a Push over HTTP/1.1, and the change is stored", async () => {
    const server = await start();
    const push = connectJsonPost("Push", {
      clientId: "half-closer",
      changes: [{ collection: "todos", documentId: "t1", document: '{"title":"sent, then FIN"}', operation: "OPERATION_INSERT", clientSequence: "1", timestamp: { wallTimeMs: String(Date.now()) } }],
    });
    const { response } = await sendAndHalfClose(server.url, push);
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    const body = JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4)) as { results: { accepted?: unknown }[] };
    expect(body.results[0]?.accepted).toBeDefined();
    const pulled = await syncClient(server.url).pull({ collections: ["todos"] });
    expect(pulled.changes.map((c) => c.documentId)).toEqual(["t1"]);
  });

  it("gets the answer to a GET (Connect unary GET) and the connection is then closed", async () => {
    const server = await start();
    const message = encodeURIComponent(JSON.stringify({ collections: ["todos"] }));
    const get = [`GET /pocket.sync.v1.SyncService/Pull?connect=v1&encoding=json&message=${message} HTTP/1.1`, "Host: localhost", "", ""].join("\r\n");
    const { response } = await sendAndHalfClose(server.url, get);
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response).toContain('"checkpoint"');
  });

  it("is closed at once when it half-closes without saying anything", async () => {
    const server = await start();
    const { response, ms } = await sendAndHalfClose(server.url, "");
    // Well before the headers timeout (10 s).
    expect(response).toBe("");
    expect(ms).toBeLessThan(4_000);
  });
});
