// The Subscribe route on the wire, byte by byte: envelopes, the compression
// policy (PROTOCOL §5.6), and requests no generated client would send.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import http2 from "node:http2";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { SubscribeRequestSchema, SubscribeResponseSchema, type SubscribeResponse } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { pushed, startServer, syncClient, type RunningServer } from "./testing.js";

const running: RunningServer[] = [];
const sessions: http2.ClientHttp2Session[] = [];
afterEach(async () => {
  sessions.splice(0).forEach((s) => s.destroy());
  await Promise.all(running.splice(0).map((s) => s.close()));
});
async function start(options: Parameters<typeof startServer>[0] = {}) {
  const server = await startServer(options);
  running.push(server);
  return server;
}

interface Envelope {
  flags: number;
  data: Buffer;
}

/** A raw HTTP/2 Subscribe call: the response headers, and envelopes as they arrive. */
function rawSubscribe(url: string, body: Buffer, headers: Record<string, string> = {}) {
  const session = http2.connect(url);
  sessions.push(session);
  const stream = session.request({
    ":method": "POST",
    ":path": "/pocket.sync.v1.SyncService/Subscribe",
    "content-type": "application/connect+proto",
    ...headers,
  });
  stream.end(body);
  const envelopes: Envelope[] = [];
  let status = 0;
  let buffered = Buffer.alloc(0);
  let ended = false;
  stream.on("response", (h) => (status = Number(h[":status"])));
  const responseHeaders = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve));
  stream.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 5 && buffered.length >= 5 + buffered.readUInt32BE(1)) {
      const length = buffered.readUInt32BE(1);
      envelopes.push({ flags: buffered[0]!, data: buffered.subarray(5, 5 + length) });
      buffered = buffered.subarray(5 + length);
    }
  });
  stream.on("end", () => (ended = true));
  return { envelopes, responseHeaders, get status() { return status; }, get ended() { return ended; }, stream };
}

function envelope(message: Uint8Array, flags = 0): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = flags;
  out.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(out, 5);
  return out;
}

const request = (collections = ["todos"]) => Buffer.from(toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { collections })));

function decode(e: Envelope): SubscribeResponse {
  return fromBinary(SubscribeResponseSchema, e.flags & 1 ? gunzipSync(e.data) : e.data);
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The end-of-stream envelope's JSON (Connect). */
const endOf = (e: Envelope | undefined) => (e && e.flags & 2 ? JSON.parse(e.data.toString()) : undefined);

describe("compression", () => {
  it("compresses large catch-up pages for a client that accepts gzip, never the shared live batches", async () => {
    const { url } = await start();
    const client = syncClient(url);
    await client.push({ clientId: "w", changes: Array.from({ length: 50 }, (_, i) => pushed(`d${i}`, { title: "a todo that takes some room", i }, i + 1)) });
    const call = rawSubscribe(url, envelope(request()), { "connect-accept-encoding": "gzip" });
    expect((await call.responseHeaders)["connect-content-encoding"]).toBe("gzip");
    await until(() => call.envelopes.length >= 1);
    expect(call.envelopes[0]!.flags).toBe(1);
    const page = decode(call.envelopes[0]!);
    expect(page.event.case === "changes" && page.event.value.changes.length).toBe(50);
    // A live batch as large as the catch-up page still goes uncompressed.
    await client.push({ clientId: "w", changes: Array.from({ length: 50 }, (_, i) => pushed(`l${i}`, { title: "a todo that takes some room", i }, 100 + i)) });
    await until(() => call.envelopes.length >= 2);
    expect(call.envelopes[1]!.flags).toBe(0);
    const live = decode(call.envelopes[1]!);
    expect(live.event.case === "changes" && live.event.value.changes.map((c) => c.documentId)).toEqual(Array.from({ length: 50 }, (_, i) => `l${i}`));
  });

  it("compresses nothing for a client that does not accept it, and keeps order behind a compressed page", async () => {
    const { url } = await start({ subscribePageSize: 10 });
    const client = syncClient(url);
    await client.push({ clientId: "w", changes: Array.from({ length: 35 }, (_, i) => pushed(`d${i}`, { title: "x".repeat(100), i }, i + 1)) });
    const plain = rawSubscribe(url, envelope(request()));
    const gzip = rawSubscribe(url, envelope(request()), { "connect-accept-encoding": "identity, gzip" });
    // Live changes race with the compressed catch-up pages.
    const writing = (async () => {
      for (let i = 0; i < 10; i++) await client.push({ clientId: "w", changes: [pushed(`live${i}`, { i }, 100 + i)] });
    })();
    await writing;
    for (const call of [plain, gzip]) {
      await until(() => call.envelopes.flatMap((e) => { const m = decode(e); return m.event.case === "changes" ? m.event.value.changes : []; }).length >= 45);
      const ids = call.envelopes.flatMap((e) => { const m = decode(e); return m.event.case === "changes" ? m.event.value.changes.map((c) => c.documentId) : []; });
      expect(ids).toEqual([...Array.from({ length: 35 }, (_, i) => `d${i}`), ...Array.from({ length: 10 }, (_, i) => `live${i}`)]);
    }
    expect(plain.envelopes.every((e) => e.flags === 0)).toBe(true);
    expect(gzip.envelopes.some((e) => e.flags === 1)).toBe(true);
  });

  it("accepts a gzip-compressed request", async () => {
    const { url } = await start();
    const call = rawSubscribe(url, envelope(gzipSync(request()), 1), { "connect-content-encoding": "gzip" });
    await until(() => call.envelopes.length >= 1);
    expect(decode(call.envelopes[0]!).event.case).toBe("changes");
  });
});

describe("requests no generated client sends", () => {
  it.each([
    ["an empty body", Buffer.alloc(0)],
    ["a truncated envelope", envelope(request()).subarray(0, 8)],
    ["two messages", Buffer.concat([envelope(request()), envelope(request())])],
    ["unknown envelope flags", envelope(request(), 0x40)],
    ["a compressed message without an encoding", envelope(gzipSync(request()), 1)],
    ["bytes that are not a SubscribeRequest", envelope(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))],
  ])("answers %s with invalid_argument, at once", async (_what, body) => {
    const { url } = await start();
    const call = rawSubscribe(url, body);
    await until(() => call.ended);
    expect(call.status).toBe(200);
    const error = endOf(call.envelopes.at(-1))?.error;
    expect(error?.code).toBe("invalid_argument");
    expect(error?.details?.map((d: { type: string }) => d.type)).toContain("google.rpc.ErrorInfo");
  });

  it("answers an unknown compression with unimplemented, naming the ones it accepts", async () => {
    const { url } = await start();
    const call = rawSubscribe(url, envelope(request(), 1), { "connect-content-encoding": "zstd" });
    await until(() => call.ended);
    expect(endOf(call.envelopes.at(-1))?.error?.code).toBe("unimplemented");
  });

  it("refuses content types it does not serve with 415, gRPC-Web text among them", async () => {
    const { url } = await start();
    for (const type of ["application/json", "application/proto", "application/grpc-web-text", "text/plain"]) {
      const call = rawSubscribe(url, envelope(request()), { "content-type": type });
      await until(() => call.ended);
      expect(`${type}: ${call.status}`).toBe(`${type}: 415`);
    }
  });

  it("answers another method with 405, as Connect does for its procedures", async () => {
    const { url } = await start();
    const response = await fetch(`${url}/pocket.sync.v1.SyncService/Subscribe`);
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
  });

  it("ends the stream with deadline_exceeded when the request's deadline passes", async () => {
    const { url, server } = await start();
    const call = rawSubscribe(url, envelope(request()), { "connect-timeout-ms": "150" });
    await until(() => call.ended, 3_000);
    expect(endOf(call.envelopes.at(-1))?.error?.code).toBe("deadline_exceeded");
    await until(() => server.hub.size === 0);
  });

  it("releases the subscription when the client resets the stream", async () => {
    const { url, server } = await start();
    const call = rawSubscribe(url, envelope(request()));
    await until(() => server.hub.size === 1);
    call.stream.close(http2.constants.NGHTTP2_CANCEL);
    await until(() => server.hub.size === 0);
  });
});

describe("Pull", () => {
  it("answers a Connect GET in either codec with the changes as stored, byte for byte", async () => {
    const { url } = await start();
    const { createClient } = await import("@connectrpc/connect");
    const { createConnectTransport } = await import("@connectrpc/connect-node");
    const { SyncService } = await import("../../../gen/ts/pocket/sync/v1/sync_pb.js");
    const text = '{"z":1,"a":[1,2,{"ü":"☕"}],"big":9007199254740993}';
    await syncClient(url).push({ clientId: "w", changes: [{ ...pushed("a", null, 1), operation: 1, document: text }, pushed("b", { n: 2 }, 2)] });
    const pulls = await Promise.all([true, false].map((useBinaryFormat) =>
      createClient(SyncService, createConnectTransport({ baseUrl: url, httpVersion: "1.1", useHttpGet: true, useBinaryFormat })).pull({ collections: ["todos"] })));
    const post = await syncClient(url, "grpc").pull({ collections: ["todos"] });
    for (const pull of [...pulls, post]) {
      expect(pull.changes.map((c) => [c.documentId, c.serverSequence, c.revision])).toEqual([["a", 1n, "1-1"], ["b", 2n, "1-2"]]);
      expect(pull.changes[0]?.document).toBe(text);
      expect(pull.$unknown ?? []).toEqual([]);
    }
  });
});
