// Connections that never finish a request, against the real server process:
// a flood of them is closed after its timeouts while other clients are served
// promptly and Subscribe streams live on; past the connection limit, new
// connections are closed on arrival. And the graceful GOAWAY, to the byte.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import type { SubscribeResponse } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { serveHttp1And2, type DualServer } from "./listen.js";
import { eventually, pushed, syncClient } from "./testing.js";
import { metric, startCli, stopAllClis } from "./testing-cli.js";

const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await stopAllClis();
});
// Limits through the environment, as a container sets them.
const start = (env: Record<string, string>) => startCli(["--storage", "memory"], { env });

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}
/** HPACK "literal header field without indexing, new name", short strings only. */
function headerBlock(headers: Record<string, string>): Buffer {
  return Buffer.concat(Object.entries(headers).map(([name, value]) => Buffer.concat([Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)])));
}
const SETTINGS = frame(0x4, 0, 0);
/** A Push whose body never comes: HEADERS without END_STREAM. */
const STALLED_HTTP2_PUSH = frame(0x1, 0x4, 1, headerBlock({
  ":method": "POST",
  ":scheme": "http",
  ":path": "/pocket.sync.v1.SyncService/Push",
  ":authority": "localhost",
  "content-type": "application/proto",
}));
const HALF_A_HEAD = "POST /pocket.sync.v1.SyncService/Push HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n";
const STALLED_HTTP1_BODY = `${HALF_A_HEAD}Content-Length: 1000\r\n\r\n{"clientId":`;

/** What a flooding client sends, and then nothing more. */
const FLOOD: Record<string, Buffer | string> = {
  "nothing at all": "",
  "half the HTTP/2 preface": PREFACE.subarray(0, 10),
  "the HTTP/2 preface only": PREFACE,
  "half an HTTP/1.1 request head": HALF_A_HEAD,
  "preface and SETTINGS, then no stream": Buffer.concat([PREFACE, SETTINGS]),
};

interface Opened {
  readonly socket: net.Socket;
  readonly openedAt: number;
  closedAt?: number;
}
async function open(url: string, send: Buffer | string): Promise<Opened> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  sockets.push(socket);
  const opened: Opened = { socket, openedAt: Date.now() };
  socket.on("error", () => {});
  socket.on("data", () => {}); // read (and ignore) SETTINGS, GOAWAY, PING
  socket.once("close", () => (opened.closedAt = Date.now()));
  await new Promise<void>((resolve) => {
    socket.once("connect", resolve);
    socket.once("close", () => resolve());
  });
  if (send.length > 0 && !socket.destroyed) socket.write(send);
  return opened;
}

/** Connections this process can open without running out of descriptors (the server needs as many). */
function floodSize(wanted: number): number {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
  const soft = Number(line?.split(/\s{2,}/)[1]);
  return Number.isInteger(soft) ? Math.min(wanted, Math.floor((soft - 200) / 2)) : wanted;
}

function follow(stream: AsyncIterable<SubscribeResponse>) {
  const state = { messages: 0, ended: undefined as unknown };
  void (async () => {
    try {
      for await (const _ of stream) state.messages++;
      state.ended = "end of stream";
    } catch (error) {
      state.ended = error;
    }
  })();
  return state;
}

describe("connections that never complete a request", () => {
  it("are closed after their timeouts, while other clients are served promptly and streams live on", async () => {
    const server = await start({
      POCKET_HEADERS_TIMEOUT_MS: "1500",
      POCKET_BODY_TIMEOUT_MS: "1500",
      POCKET_IDLE_TIMEOUT_MS: "2500",
    });
    // Streams whose heartbeats (4 s) are further apart than any timeout.
    const abort = new AbortController();
    const streams = (["connect-proto-h2", "connect-json-h1", "grpc"] as const).map((variant) =>
      follow(syncClient(server.url, variant).subscribe({ collections: ["todos"], heartbeatIntervalMs: 4000 }, { signal: abort.signal })),
    );
    await eventually(() => streams.every((s) => s.messages > 0), 5_000, "three open streams");

    const kinds = Object.entries(FLOOD);
    const total = floodSize(2000);
    const flood: Opened[] = [];
    for (let i = 0; i < total; i += 200) {
      flood.push(...(await Promise.all(Array.from({ length: Math.min(200, total - i) }, (_, j) => open(server.url, kinds[(i + j) % kinds.length]![1])))));
    }
    const stalled = [await open(server.url, Buffer.concat([PREFACE, SETTINGS, STALLED_HTTP2_PUSH])), await open(server.url, STALLED_HTTP1_BODY)];
    expect(await metric(server.url, "pocket_sync_connections")).toBeGreaterThan(total / 2);

    // Served during the flood, over new connections.
    for (const variant of ["connect-proto-h2", "connect-json-h1"] as const) {
      const client = syncClient(server.url, variant);
      const started = Date.now();
      const push = await client.push({ clientId: `during-${variant}`, changes: [pushed(`during-${variant}`, {}, 1)] });
      expect(push.results[0]?.outcome.case).toBe("accepted");
      expect((await client.pull({ collections: ["todos"] })).changes.length).toBeGreaterThan(0);
      expect(Date.now() - started).toBeLessThan(3_000);
    }

    // Closed by the server: the heads at 1.5 s; sessions without a stream at
    // 2.5 s idle plus up to 2 s for the PING of the graceful GOAWAY; stalled
    // bodies at 1.5 s, then as idle.
    await eventually(() => [...flood, ...stalled].every((o) => o.closedAt !== undefined), 12_000, "the server to close every flooding connection");
    // Not before their time, either.
    const lifetimes = [...flood, ...stalled].map((o) => o.closedAt! - o.openedAt);
    expect(Math.min(...lifetimes)).toBeGreaterThan(1_200);

    // The streams lived through it all, heartbeats included.
    expect(streams.map((s) => s.ended)).toEqual([undefined, undefined, undefined]);
    await eventually(() => streams.every((s) => s.messages >= 2), 6_000, "a heartbeat on every stream");
    expect(await metric(server.url, "pocket_sync_connections")).toBeLessThan(10);
    abort.abort();
  }, 30_000);

  it("past --max-connections, new ones are closed on arrival, with one log line, and served again once below", async () => {
    const server = await start({ POCKET_MAX_CONNECTIONS: "40", POCKET_HEADERS_TIMEOUT_MS: "2000" });
    const first = await Promise.all(Array.from({ length: 40 }, () => open(server.url, "")));
    await new Promise((resolve) => setTimeout(resolve, 300)); // all 40 accepted
    const over = await Promise.all(Array.from({ length: 10 }, () => open(server.url, "")));
    await eventually(() => over.every((o) => o.closedAt !== undefined), 1_500, "the connections over the limit to be closed");
    expect(first.filter((o) => o.closedAt !== undefined)).toEqual([]);
    expect(server.output().match(/refused 1 connection: 40 open, the --max-connections limit/g)?.length).toBe(1);
    // The 40 reach their headers timeout; new clients get in again.
    await eventually(() => first.every((o) => o.closedAt !== undefined), 6_000, "the idle 40 to be closed");
    const push = await syncClient(server.url).push({ clientId: "after", changes: [pushed("after", {}, 1)] });
    expect(push.results[0]?.outcome.case).toBe("accepted");
  }, 20_000);
});

describe("closing an HTTP/2 session", () => {
  // A client in its own process: it sends /a and /b together; the server
  // begins to close as /a arrives, with /b right behind it on the wire.
  const CLIENT = `
    import http2 from "node:http2";
    const client = http2.connect(process.argv[1]);
    await new Promise((r) => client.once("remoteSettings", r));
    const get = (path) => new Promise((resolve) => {
      let req;
      try { req = client.request({ ":path": path }); } catch (e) { return resolve("not sent: " + e.code); }
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (d) => (body += d));
      req.on("end", () => resolve(body));
      req.on("error", (e) => resolve("error: " + e.message));
      req.end();
    });
    const a = get("/a");
    const b = get("/b");
    console.log(JSON.stringify([await a, await b]));
    client.close();`;

  it("serves a stream the client sent before it heard of the shutdown, instead of refusing it", async () => {
    const h2 = http2.createServer();
    let dual: DualServer | undefined;
    let closed: Promise<number> | undefined;
    h2.on("stream", (stream, headers) => {
      if (headers[":path"] === "/a") closed ??= dual!.close(5_000);
      setTimeout(() => {
        stream.respond({ ":status": 200 });
        stream.end(`served ${headers[":path"]}`);
      }, 20);
    });
    dual = serveHttp1And2(h2, () => {}, { headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000, idleTimeoutMs: 5_000, maxConnections: 100, warn: () => {} });
    await new Promise<void>((resolve) => dual!.server.listen(0, "127.0.0.1", () => resolve()));
    const { port } = dual.server.address() as net.AddressInfo;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", CLIENT, `http://127.0.0.1:${port}`]);
    expect(JSON.parse(stdout)).toEqual(["served /a", "served /b"]);
    expect(await closed).toBe(0);
  });

  it("serves a connection that starts speaking during the shutdown, its SETTINGS first", async () => {
    const h2 = http2.createServer();
    h2.on("stream", (stream, headers) => {
      stream.respond({ ":status": 200 });
      stream.end(`served ${headers[":path"]}`);
    });
    const dual = serveHttp1And2(h2, () => {}, { headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000, idleTimeoutMs: 5_000, maxConnections: 100, warn: () => {} });
    await new Promise<void>((resolve) => dual.server.listen(0, "127.0.0.1", () => resolve()));
    const { port } = dual.server.address() as net.AddressInfo;
    const socket = net.connect(port, "127.0.0.1");
    sockets.push(socket);
    await new Promise((resolve) => socket.once("connect", resolve));
    await new Promise((resolve) => setTimeout(resolve, 50)); // accepted, not yet identified
    const closed = dual.close(5_000);
    const frames: { type: number; stream: number; payload: Buffer }[] = [];
    let pending = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
        const length = pending.readUIntBE(0, 3);
        const received = { type: pending[3]!, flags: pending[4]!, stream: pending.readUInt32BE(5) & 0x7fffffff, payload: pending.subarray(9, 9 + length) };
        pending = pending.subarray(9 + length);
        frames.push(received);
        // Acknowledge SETTINGS and answer PINGs, as a client does.
        if (received.type === 0x4 && !(received.flags & 1)) socket.write(frame(0x4, 1, 0));
        if (received.type === 0x6 && !(received.flags & 1)) socket.write(frame(0x6, 1, 0, received.payload));
      }
    });
    const request = headerBlock({ ":method": "GET", ":scheme": "http", ":path": "/late", ":authority": "localhost" });
    socket.write(Buffer.concat([PREFACE, SETTINGS, frame(0x1, 0x5, 1, request)]));
    await new Promise((resolve) => socket.once("close", resolve));
    expect(await closed).toBe(0);
    expect(frames[0]?.type).toBe(0x4);
    expect(frames.filter((f) => f.type === 0x0 && f.stream === 1).map((f) => f.payload.toString()).join("")).toBe("served /late");
    // The notice, then the GOAWAY that names the stream it served last (Node sends that one twice).
    const [notice, ...last] = frames.filter((f) => f.type === 0x7).map((f) => f.payload.readUInt32BE(0));
    expect(notice).toBe(2 ** 31 - 1);
    expect(new Set(last)).toEqual(new Set([1]));
  });
});
