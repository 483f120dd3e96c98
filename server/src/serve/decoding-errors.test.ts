// Requests the RPC stack cannot decode get invalid_argument with ErrorInfo on
// every protocol (PROTOCOL §11), and nothing of them is stored. Each case here
// was answered `internal` (or invalid_argument without ErrorInfo) before the
// decoding-error gate; found by hand and by wire-fuzz.test.ts.
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PullRequestSchema, PushRequestSchema } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createMemoryStorage } from "../storage/index.js";
import type { Storage } from "../storage/types.js";
import { asClientError } from "./decoding-errors.js";
import { envelope, RawWire, type RawAnswer, type RawRequest } from "./test-support/raw-wire.js";
import { pushed, startServer, syncClient, type RunningServer } from "./testing.js";

const SERVICE = "/pocket.sync.v1.SyncService";
/** Field 1 (client_id), length-delimited, then a varint longer than ten bytes. */
const BAD_VARINT = Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
/** Field 1 (client_id) with a string that is not UTF-8. */
const BAD_UTF8 = Uint8Array.of(0x0a, 0x02, 0xc0, 0xaf);
const validPush = toBinary(PushRequestSchema, create(PushRequestSchema, { clientId: "raw", changes: [pushed("raw-1", { a: 1 }, 1)] }));

type Framing = "connect" | "connect-stream" | "grpc" | "grpc-web";

/** A request carrying `payload` as its message, framed for `framing`. */
function request(framing: Framing, payload: Uint8Array, options: { rpc?: string; json?: boolean; flags?: number; gzip?: boolean; h2?: boolean } = {}): RawRequest {
  const codec = options.json ? "json" : "proto";
  const rpc = options.rpc ?? (framing === "connect-stream" ? "Subscribe" : "Push");
  const body = options.gzip ? gzipSync(payload) : payload;
  const flags = (options.flags ?? 0) | (options.gzip ? 1 : 0);
  const path = `${SERVICE}/${rpc}`;
  switch (framing) {
    case "connect": {
      const headers: Record<string, string> = { "content-type": `application/${codec}`, "connect-protocol-version": "1" };
      if (options.gzip) headers["content-encoding"] = "gzip";
      return { httpVersion: options.h2 ? "2" : "1.1", path, headers, body };
    }
    case "connect-stream": {
      const headers: Record<string, string> = { "content-type": `application/connect+${codec}` };
      if (options.gzip) headers["connect-content-encoding"] = "gzip";
      return { httpVersion: options.h2 ? "2" : "1.1", streaming: true, path, headers, body: envelope(body, flags) };
    }
    case "grpc":
    case "grpc-web": {
      const headers: Record<string, string> = { "content-type": `application/${framing}+${codec}` };
      if (framing === "grpc") headers.te = "trailers";
      if (options.gzip) headers["grpc-encoding"] = "gzip";
      return { httpVersion: framing === "grpc" || options.h2 ? "2" : "1.1", streaming: rpc === "Subscribe", path, headers, body: envelope(body, flags) };
    }
  }
}

function expectInvalidArgument(answer: RawAnswer, what: string): void {
  expect({ code: answer.code, reason: answer.reason, what }).toEqual({ code: "invalid_argument", reason: "ERROR_REASON_INVALID_ARGUMENT", what });
}

let server: RunningServer;
let wire: RawWire;
beforeAll(async () => {
  server = await startServer();
  wire = new RawWire(server.url);
});
afterAll(async () => {
  wire.close();
  await server.close();
});

const FRAMINGS: readonly Framing[] = ["connect", "connect-stream", "grpc", "grpc-web"];

describe.each(FRAMINGS)("over %s", (framing) => {
  it("answers an undecodable binary message with invalid_argument and ErrorInfo", async () => {
    for (const [what, payload] of [["invalid varint", BAD_VARINT], ["truncated", validPush.subarray(0, validPush.length - 3)], ["bad UTF-8", BAD_UTF8]] as const) {
      for (const h2 of [false, true]) {
        const answer = await wire.send(request(framing, payload, { h2 }));
        expectInvalidArgument(answer, `${what} over ${framing}${h2 ? " h2" : ""}`);
        expect(answer.httpStatus).toBeLessThan(500);
      }
    }
  });

  it("answers JSON that does not parse or does not fit the schema with invalid_argument and ErrorInfo", async () => {
    // Over connect-stream the message is a SubscribeRequest: unknown keys are
    // ignored and no collection means every collection (PROTOCOL §4.8), so
    // `{"changes": 5}` is a valid one there; a wrong type is not.
    const misfits = framing === "connect-stream"
      ? ['{"collections": 5}', '{"collections":[{"timestamp":"x"}]}']
      : ['{"changes": 5}', '{"changes":[{"timestamp":{"wallTimeMs":"x"}}]}'];
    for (const text of ["{not json", '{"clientId": 7}', "[]", ...misfits]) {
      expectInvalidArgument(await wire.send(request(framing, new TextEncoder().encode(text), { json: true })), `${text} over ${framing}`);
    }
  });

  it("answers corrupt gzip with invalid_argument and ErrorInfo", async () => {
    const corrupt = (r: RawRequest): RawRequest => {
      const body = r.body!.slice();
      const at = framing === "connect" ? 0 : 5;
      body.fill(0x41, at + 10, at + 20); // inside the deflate stream
      return { ...r, body };
    };
    expectInvalidArgument(await wire.send(corrupt(request(framing, validPush, { gzip: true }))), `corrupt gzip over ${framing}`);
    const truncated = request(framing, validPush, { gzip: true });
    expectInvalidArgument(await wire.send({ ...truncated, body: truncated.body!.subarray(0, truncated.body!.length - 8) }), `truncated gzip over ${framing}`);
  });
});

describe.each(["connect-stream", "grpc", "grpc-web"] as const)("enveloped over %s", (framing) => {
  it("answers a message flagged compressed without a compression with invalid_argument and ErrorInfo", async () => {
    expectInvalidArgument(await wire.send(request(framing, validPush, { flags: 1 })), `compressed flag over ${framing}`);
  });

  it("answers an incomplete envelope with invalid_argument and ErrorInfo", async () => {
    const r = request(framing, validPush);
    expectInvalidArgument(await wire.send({ ...r, body: r.body!.subarray(0, r.body!.length - 1) }), `incomplete envelope over ${framing}`);
  });
});

describe("Connect GET", () => {
  const get = (params: Record<string, string>, h2 = false): RawRequest => ({
    httpVersion: h2 ? "2" : "1.1",
    method: "GET",
    path: `${SERVICE}/Pull?${new URLSearchParams({ connect: "v1", ...params })}`,
    headers: {},
  });
  const pull = Buffer.from(toBinary(PullRequestSchema, create(PullRequestSchema, { collections: ["todos"] })));

  it("answers a message that is not base64 with invalid_argument and ErrorInfo", async () => {
    for (const message of ["!!!", "%%%", "a$b", "ab=c"]) {
      for (const h2 of [false, true]) {
        const answer = await wire.send(get({ encoding: "proto", base64: "1", message }, h2));
        expectInvalidArgument(answer, `GET message ${message}`);
        expect(answer.httpStatus).toBe(400);
      }
    }
  });

  it("answers base64 of an undecodable message, or of corrupt gzip, with invalid_argument and ErrorInfo", async () => {
    expectInvalidArgument(await wire.send(get({ encoding: "proto", base64: "1", message: Buffer.from(BAD_VARINT).toString("base64url") })), "GET invalid varint");
    expectInvalidArgument(await wire.send(get({ encoding: "json", message: "{bad" })), "GET bad JSON");
    const zipped = gzipSync(pull);
    const message = Buffer.from(zipped.subarray(0, zipped.length - 6)).toString("base64url");
    expectInvalidArgument(await wire.send(get({ encoding: "proto", base64: "1", compression: "gzip", message })), "GET truncated gzip");
  });

  it("still serves a valid GET, plain and base64", async () => {
    expect((await wire.send(get({ encoding: "proto", base64: "1", message: pull.toString("base64url") }))).code).toBe("ok");
    expect((await wire.send(get({ encoding: "json", message: '{"collections":["todos"]}' }))).code).toBe("ok");
  });
});

describe("what the decoding errors leave behind", () => {
  it("stores nothing, and the server keeps serving", async () => {
    const client = syncClient(server.url);
    const before = await client.pull({ collections: ["todos"] });
    for (const framing of FRAMINGS) await wire.send(request(framing, BAD_VARINT, { rpc: "Push" }));
    const after = await client.pull({ collections: ["todos"], checkpoint: before.checkpoint });
    expect(after.changes).toEqual([]);
    const res = await client.push({ clientId: "after", changes: [pushed("after", { ok: true }, 1)] });
    expect(res.results[0]?.outcome.case).toBe("accepted");
  });
});

describe("metrics", () => {
  it("count a streaming call's decoding error with the code the client got", async () => {
    for (const framing of ["connect-stream", "grpc", "grpc-web"] as const) {
      expectInvalidArgument(await wire.send(request(framing, BAD_VARINT, { rpc: "Subscribe" })), `Subscribe over ${framing}`);
    }
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/pocket_sync_rpc_duration_seconds_count\{method="Subscribe",code="InvalidArgument"\} [1-9]/);
    expect(text).not.toMatch(/code="Internal"/);
  });
});

describe("genuine server faults", () => {
  it("are not disguised as invalid_argument", () => {
    for (const error of [
      new ConnectError("internal error", Code.Internal),
      new ConnectError("serialize binary: cannot encode field", Code.Internal),
      new ConnectError("lost the database", Code.Unavailable),
      new Error("disk on fire"),
    ]) {
      const code = error instanceof ConnectError ? error.code : undefined;
      asClientError(error);
      expect(error instanceof ConnectError ? error.code : undefined).toBe(code);
    }
  });

  it("a storage failure during a push stays a server error", async () => {
    const storage = createMemoryStorage();
    const failing: Storage = Object.assign(Object.create(Object.getPrototypeOf(storage)) as Storage, storage, {
      commitGroup: async () => {
        throw new Error("disk on fire");
      },
    });
    const s = await startServer({ storage: failing });
    try {
      const e = await syncClient(s.url).push({ clientId: "x", changes: [pushed("x", {}, 1)] }).then(
        () => undefined,
        (error: unknown) => ConnectError.from(error),
      );
      expect(e?.code).not.toBe(Code.InvalidArgument);
      expect(e?.code).toBeDefined();
    } finally {
      await s.close();
    }
  });
});
