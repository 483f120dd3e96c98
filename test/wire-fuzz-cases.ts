// Malformed requests for the wire fuzz test, generated from a seed: case i of
// seed s is always the same bytes, whatever ran before it, so a failure is
// reproduced by its (seed, index) alone. Each case starts from a valid request,
// framed for one protocol, then gets zero or more mutations of its message,
// its framing or its headers.
import { create, toBinary, toJsonString, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { gzipSync } from "node:zlib";
import {
  Operation,
  PullRequestSchema,
  PushRequestSchema,
  SubscribeRequestSchema,
} from "../gen/ts/pocket/sync/v1/sync_pb.js";
import { envelope, type RawRequest } from "../server/src/serve/test-support/raw-wire.js";

/** Collections of the fuzzed server, one per conflict strategy. */
export const FUZZ_COLLECTIONS = { todos: "report", lww: "last-write-wins", merged: "merge", cw: "client-wins", sw: "server-wins" } as const;
const COLLECTIONS = Object.keys(FUZZ_COLLECTIONS);
const SERVICE = "/pocket.sync.v1.SyncService";
const MAX_URL = 8 * 1024;

/** mulberry32: small, fast, and the same sequence on every platform. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }
}

export type Rpc = "Push" | "Pull" | "Subscribe";
export type Channel =
  | "connect-json-h1"
  | "connect-json-h2"
  | "connect-proto-h1"
  | "connect-proto-h2"
  | "connect-get-proto"
  | "connect-get-json"
  | "grpc"
  | "grpc-web-h1"
  | "grpc-web-h2";
const CHANNELS: readonly Channel[] = [
  "connect-json-h1", "connect-json-h2", "connect-proto-h1", "connect-proto-h2", "connect-get-proto", "connect-get-json", "grpc", "grpc-web-h1", "grpc-web-h2",
];

export interface FuzzCase {
  readonly index: number;
  readonly rpc: Rpc;
  readonly channel: Channel;
  /** What was done to the valid request, in order. */
  readonly mutations: string[];
  readonly request: RawRequest;
  /** The response codec: how a successful answer's messages are decoded. */
  readonly json: boolean;
}

// ---------------------------------------------------------------- valid requests

function jsonValue(rnd: Random, depth: number): unknown {
  const kind = depth > 3 ? rnd.int(4) : rnd.int(6);
  switch (kind) {
    case 0: return rnd.pick(["", "milk", "Café ☕", "𝄞", "\u0000", "a\"b\\c"]);
    case 1: return rnd.pick([0, -1, 1.5, 1e300, 9007199254740993, -0]);
    case 2: return rnd.chance(0.5);
    case 3: return null;
    case 4: return Array.from({ length: rnd.int(4) }, () => jsonValue(rnd, depth + 1));
    default: return Object.fromEntries(Array.from({ length: rnd.int(4) }, (_, i) => [`k${i}`, jsonValue(rnd, depth + 1)]));
  }
}

/** A document nested `depth` levels deep (the top-level object counts as one). */
export function nestedDocument(depth: number, kind: "array" | "object" = "array"): string {
  const inner = kind === "array" ? `${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}` : `${'{"b":'.repeat(depth - 1)}1${"}".repeat(depth - 1)}`;
  return `{"a":${inner}}`;
}

function documentText(rnd: Random): string {
  const roll = rnd.next();
  const kind = rnd.pick(["array", "object"] as const);
  // Around the depth limit, past where recursive code overflows the stack
  // (about 5,000 levels in V8), and the 200,000 levels of the original report.
  if (roll < 0.0005) return nestedDocument(200_000, kind);
  if (roll < 0.02) return nestedDocument(5_000 + rnd.int(5_000), kind);
  if (roll < 0.06) return nestedDocument(60 + rnd.int(340), kind);
  if (roll < 0.08) return rnd.pick(["[]", "null", "not json", '{"_id":"x"}', "{\"a\":1", "\"s\""]);
  return JSON.stringify(jsonValue(rnd, 0) instanceof Object ? { ...(jsonValue(rnd, 0) as object), n: rnd.int(100) } : { v: jsonValue(rnd, 0) });
}

function change(rnd: Random, documentId: string, clientSequence: bigint, small: boolean) {
  const operation = rnd.pick([Operation.INSERT, Operation.INSERT, Operation.UPDATE, Operation.DELETE]);
  return {
    operation,
    collection: rnd.pick(COLLECTIONS),
    documentId,
    document: operation === Operation.DELETE ? "" : small ? `{"n":${rnd.int(100)}}` : documentText(rnd),
    // Random revisions conflict, which is what reaches the resolvers.
    baseRevision: operation === Operation.INSERT ? "" : rnd.pick(["", "1-x", "2-abc"]),
    clientSequence,
    timestamp: { wallTimeMs: BigInt(Date.UTC(2025, 0, 1) + rnd.int(1e9)), logical: rnd.int(3) },
  };
}

function pushRequest(rnd: Random, index: number) {
  const huge = rnd.chance(0.0007);
  const count = huge ? 4_000 + rnd.int(4_000) : 1 + rnd.int(3);
  // Sequences unique per case, so a refused case never blocks a later one by
  // idempotency. A huge batch has small documents: requests over the message
  // limit are another test's subject (the transport's).
  return create(PushRequestSchema, {
    clientId: `fuzz-${rnd.int(8)}`,
    changes: Array.from({ length: count }, (_, i) => change(rnd, `d${rnd.int(40)}-${huge ? i : ""}`, BigInt(index) * 10_000n + BigInt(i) + 1n, huge)),
  });
}

function collections(rnd: Random): string[] {
  if (rnd.chance(0.001)) return Array.from({ length: 10_000 + rnd.int(40_000) }, (_, i) => `c${i % 1000}`);
  return Array.from(new Set(Array.from({ length: 1 + rnd.int(3) }, () => rnd.pick(COLLECTIONS))));
}

function pullRequest(rnd: Random) {
  return create(PullRequestSchema, {
    collections: collections(rnd),
    limit: rnd.pick([0, 1, 10, 1000]),
    clientId: rnd.chance(0.5) ? "fuzz-0" : "",
    ...(rnd.chance(0.2) ? { checkpoint: { serverSequence: BigInt(rnd.int(1000)), collections: { todos: BigInt(rnd.int(1000)) }, epoch: rnd.pick(["", "nope"]) } } : {}),
  });
}

function subscribeRequest(rnd: Random) {
  return create(SubscribeRequestSchema, {
    collections: collections(rnd),
    clientId: "fuzz-1",
    heartbeatIntervalMs: rnd.pick([0, 100, 30_000]),
  });
}

// ---------------------------------------------------------------- mutations

function flipBits(rnd: Random, bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  for (let n = 1 + rnd.int(4); n > 0 && out.length; n--) out[rnd.int(out.length)]! ^= 1 << rnd.int(8);
  return out;
}

function splice(bytes: Uint8Array, at: number, count: number, insert: Uint8Array): Uint8Array {
  const remove = Math.min(count, bytes.length - at);
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

/** A varint of ten 0xff bytes and more: longer than any valid varint. */
const HUGE_VARINT = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);

/** Replaces a random JSON node with a value of a random, likely wrong, type. */
function mutateJsonTree(rnd: Random, text: string): string {
  const root = JSON.parse(text) as unknown;
  const nodes: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const stack: unknown[] = [root];
  while (stack.length) {
    const node = stack.pop();
    if (node && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        nodes.push({ parent: node as Record<string, unknown>, key: Array.isArray(node) ? Number(k) : k });
        stack.push(v);
      }
    }
  }
  const replacement = rnd.pick<unknown>([
    {}, [], null, true, "", "x".repeat(300), -1, 1.5, 1e999, "1e999", "-5", "NaN", "18446744073709551616", "AAAA====", { a: [1] }, [[[]]], "OPERATION_BOGUS", 99,
  ]);
  if (!nodes.length) return JSON.stringify(replacement);
  const { parent, key } = rnd.pick(nodes);
  (parent as Record<string | number, unknown>)[key] = replacement;
  return JSON.stringify(root);
}

const WRONG_CONTENT_TYPES = [
  "", "text/plain", "application/xml", "application/grpc-web-text", "application/grpc+thrift", "application/connect+proto",
  "application/proto", "application/json; charset=latin1", "application/grpc", "application/grpc-web+json", "multipart/form-data",
];

// ---------------------------------------------------------------- framing

function schemaOf(rpc: Rpc): DescMessage {
  return rpc === "Push" ? PushRequestSchema : rpc === "Pull" ? PullRequestSchema : SubscribeRequestSchema;
}

function channelFor(rnd: Random, rpc: Rpc): Channel {
  const channels = CHANNELS.filter((c) => !c.startsWith("connect-get") || rpc === "Pull");
  return rnd.pick(channels);
}

/** Builds case `index` of `seed`. */
export function fuzzCase(seed: number, index: number): FuzzCase {
  const rnd = new Random((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const rpc: Rpc = rnd.pick(["Push", "Push", "Push", "Pull", "Subscribe"]);
  const channel = channelFor(rnd, rpc);
  const schema = schemaOf(rpc);
  const message = rpc === "Push" ? pushRequest(rnd, index) : rpc === "Pull" ? pullRequest(rnd) : subscribeRequest(rnd);
  const json = channel.includes("json") || (channel.startsWith("grpc") && rnd.chance(0.15));
  const mutations: string[] = [];
  const streaming = rpc === "Subscribe";

  // 1. The message.
  let payload: Uint8Array = json
    ? new TextEncoder().encode(toJsonString(schema, message as MessageShape<typeof schema>))
    : toBinary(schema, message as MessageShape<typeof schema>);
  const mutateMessage = rnd.chance(0.7);
  if (mutateMessage) {
    const mutation = rnd.int(json ? 9 : 7);
    switch (mutation) {
      case 0:
        payload = flipBits(rnd, payload);
        mutations.push("flip bits");
        break;
      case 1: {
        const at = rnd.int(payload.length + 1);
        payload = payload.subarray(0, at);
        mutations.push(`truncate at ${at}`);
        break;
      }
      case 2: {
        const at = rnd.int(payload.length + 1);
        payload = splice(payload, at, rnd.int(3), HUGE_VARINT);
        mutations.push(`huge varint at ${at}`);
        break;
      }
      case 3:
        payload = rnd.bytes(rnd.int(64));
        mutations.push("random bytes");
        break;
      case 4: {
        const at = rnd.int(payload.length + 1);
        payload = splice(payload, at, 0, rnd.bytes(1 + rnd.int(8)));
        mutations.push(`insert random bytes at ${at}`);
        break;
      }
      case 5: {
        // Invalid UTF-8: a lone continuation byte, an overlong form or a surrogate.
        const at = rnd.int(payload.length + 1);
        payload = splice(payload, at, rnd.int(2), rnd.pick([Uint8Array.of(0x80), Uint8Array.of(0xc0, 0xaf), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xff)]));
        mutations.push(`bad UTF-8 at ${at}`);
        break;
      }
      case 6: {
        // A length-delimited field claiming far more bytes than follow.
        const at = rnd.int(payload.length + 1);
        payload = splice(payload, at, 0, Uint8Array.of(0x12, 0xff, 0xff, 0xff, 0xff, 0x0f));
        mutations.push(`overlong length at ${at}`);
        break;
      }
      case 7: {
        const text = new TextDecoder().decode(payload);
        payload = new TextEncoder().encode(mutateJsonTree(rnd, text));
        mutations.push("JSON node of a wrong type");
        break;
      }
      default: {
        const depth = rnd.chance(0.05) ? 100_000 : rnd.pick([100, 1_000, 10_000]);
        const where = rnd.int(3);
        const deep = "[".repeat(depth) + "]".repeat(depth);
        payload = new TextEncoder().encode(
          where === 0 ? deep : where === 1 ? `{"changes":${deep}}` : `{"collections":["todos"],"checkpoint":{"collections":${"{\"a\":".repeat(depth)}1${"}".repeat(depth)}}}`,
        );
        mutations.push(`deep JSON (${depth})`);
      }
    }
  }

  // 2. The framing and headers.
  const headers: Record<string, string> = {};
  let path = `${SERVICE}/${rpc}`;
  let method: "GET" | "POST" = "POST";
  let body: Uint8Array | undefined;
  let httpVersion: "1.1" | "2" = channel.endsWith("h1") ? "1.1" : "2";
  const enveloped = streaming || channel.startsWith("grpc");
  const mutateFrame = rnd.chance(mutateMessage ? 0.15 : 0.5);
  let flags = 0;
  let length: number | undefined;
  let extra: Uint8Array = new Uint8Array();
  let compressed = false;
  if (mutateFrame && enveloped) {
    switch (rnd.int(5)) {
      case 0:
        length = rnd.pick([0, 1, payload.length + 1, payload.length + 1000, 0xffffffff, Math.max(0, payload.length - 1)]);
        mutations.push(`envelope length ${length}`);
        break;
      case 1:
        flags = rnd.pick([1, 2, 0x80, 0x81, 0xff, 4]);
        mutations.push(`envelope flags ${flags}`);
        break;
      case 2:
        extra = envelope(payload);
        mutations.push("second envelope");
        break;
      case 3:
        extra = rnd.bytes(1 + rnd.int(6));
        mutations.push("trailing bytes");
        break;
      default:
        compressed = true;
        mutations.push("gzip");
    }
  }
  if (compressed) {
    let zipped: Uint8Array = gzipSync(payload);
    if (rnd.chance(0.5)) {
      zipped = rnd.chance(0.5) ? zipped.subarray(0, rnd.int(zipped.length)) : flipBits(rnd, zipped);
      mutations.push("corrupt gzip");
    }
    payload = zipped;
    flags |= 1;
  }
  const framed = () => {
    const frame = envelope(payload, flags, length ?? payload.length);
    const all = new Uint8Array(frame.length + extra.length);
    all.set(frame);
    all.set(extra, frame.length);
    return all;
  };

  if (channel.startsWith("connect-get")) {
    httpVersion = rnd.chance(0.5) ? "1.1" : "2";
    method = "GET";
    const encoding = channel === "connect-get-proto" ? "proto" : "json";
    const base64 = encoding === "proto" || rnd.chance(0.3);
    let text = base64 ? Buffer.from(payload).toString("base64url") : new TextDecoder().decode(payload);
    if (rnd.chance(mutateMessage ? 0.1 : 0.4)) {
      text = rnd.pick(["!!!", "a", "ab=c", "%%", "\u00ff\u00fe", text + "*", text.slice(1), "===="]) as string;
      mutations.push("not base64");
    }
    const params = new URLSearchParams({ connect: "v1", encoding, message: text });
    if (base64) params.set("base64", "1");
    if (compressed) params.set("compression", "gzip");
    path = `${path}?${params}`;
    // URLs past the HTTP servers' header limits never reach the RPC stack
    // (HTTP 431, or a refused HTTP/2 stream): not what this test is about.
    if (path.length > MAX_URL) {
      path = `${SERVICE}/${rpc}`;
      method = "POST";
      httpVersion = "2";
      headers["content-type"] = `application/${encoding}`;
      headers["connect-protocol-version"] = "1";
      if (compressed) headers["content-encoding"] = "gzip";
      body = payload;
      mutations.push("too long for a URL: sent as POST");
    }
  } else if (channel.startsWith("connect")) {
    const codec = json ? "json" : "proto";
    if (streaming) {
      headers["content-type"] = `application/connect+${codec}`;
      if (compressed) headers["connect-content-encoding"] = "gzip";
      body = framed();
    } else {
      headers["content-type"] = `application/${codec}`;
      headers["connect-protocol-version"] = "1";
      if (compressed) headers["content-encoding"] = "gzip";
      body = payload;
    }
  } else {
    const protocol = channel === "grpc" ? "grpc" : "grpc-web";
    headers["content-type"] = `application/${protocol}${json ? "+json" : rnd.chance(0.5) ? "+proto" : ""}`;
    if (protocol === "grpc") headers.te = "trailers";
    if (compressed) headers["grpc-encoding"] = "gzip";
    body = framed();
  }
  if (rnd.chance(0.04)) {
    headers["content-type"] = rnd.pick(WRONG_CONTENT_TYPES);
    mutations.push(`content-type ${JSON.stringify(headers["content-type"])}`);
  }
  if (rnd.chance(0.02)) {
    const [name, value] = rnd.pick<[string, string]>([
      ["connect-timeout-ms", "-1"], ["connect-timeout-ms", "99999999999"], ["grpc-timeout", "1X"], ["grpc-timeout", "100000000S"],
      ["content-encoding", "br-x"], ["grpc-encoding", "snappy"], ["connect-protocol-version", "2"],
    ]);
    headers[name] = value;
    mutations.push(`header ${name}: ${value}`);
  }
  if (rnd.chance(0.01)) {
    method = method === "GET" ? "POST" : "GET";
    mutations.push(`HTTP ${method}`);
  }
  return {
    index,
    rpc,
    channel,
    mutations,
    json,
    request: { streaming, httpVersion, method, path, headers, ...(method === "POST" && body !== undefined ? { body } : {}) },
  };
}
