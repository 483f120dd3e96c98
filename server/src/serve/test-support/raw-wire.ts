// Raw HTTP for tests that must send bytes no generated client would: a request
// is given as it goes on the wire (method, path, headers, body), and the answer
// is read back into a status code and details with connect-es's own parsers
// for each protocol, so the test judges what a real client would see.
import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromHttpStatus, endStreamFlag, endStreamFromJson, errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse } from "@connectrpc/connect/protocol-grpc-web";
import http from "node:http";
import http2 from "node:http2";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { BadRequestSchema, ErrorInfoSchema } from "../../../../gen/ts/google/rpc/error_details_pb.js";

type WireProtocol = "connect" | "grpc" | "grpc-web";

export interface RawRequest {
  /** A streaming call (Subscribe): its answer is read up to the first envelope. */
  readonly streaming?: boolean;
  readonly httpVersion: "1.1" | "2";
  readonly method?: "GET" | "POST";
  /** Path and query, e.g. /pocket.sync.v1.SyncService/Push */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array;
}

export interface RawAnswer {
  readonly httpStatus: number;
  readonly contentType: string;
  /**
   * "ok", the Connect code name of the error (e.g. "invalid_argument"), or
   * "http_415" and the like for an answer below the RPC protocols: a request
   * no protocol claims (unknown content type or HTTP method) gets the bare
   * HTTP status the protocols prescribe, with no RPC status to give.
   */
  readonly code: string;
  readonly message: string;
  /** ErrorInfo reason, when the error carries one. */
  readonly reason: string | undefined;
  readonly fields: string[];
  /** Response message payloads (unframed), for a successful call. */
  readonly messages: Uint8Array[];
}

function codeName(code: Code): string {
  return Code[code]!.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** A gRPC / Connect-streaming envelope: flags, 32-bit big-endian length, payload. */
export function envelope(payload: Uint8Array, flags = 0, length = payload.length): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, length >>> 0);
  out.set(payload, 5);
  return out;
}

/** Undoes the compression an answer names (gzip or br); the payload as is otherwise. */
function decompress(data: Uint8Array, encoding: string | null): Uint8Array {
  if (encoding === "gzip") return gunzipSync(data);
  if (encoding === "br") return brotliDecompressSync(data);
  return data;
}

/** Splits enveloped bytes; a trailing incomplete envelope is returned as `rest`. */
export function splitEnvelopes(bytes: Uint8Array): { frames: Array<{ flags: number; data: Uint8Array }>; rest: Uint8Array } {
  const frames: Array<{ flags: number; data: Uint8Array }> = [];
  let offset = 0;
  while (bytes.length - offset >= 5) {
    const length = new DataView(bytes.buffer, bytes.byteOffset + offset + 1, 4).getUint32(0);
    if (bytes.length - offset - 5 < length) break;
    frames.push({ flags: bytes[offset]!, data: bytes.subarray(offset + 5, offset + 5 + length) });
    offset += 5 + length;
  }
  return { frames, rest: bytes.subarray(offset) };
}

interface HttpAnswer {
  status: number;
  headers: Headers;
  trailers: Headers;
  body: Uint8Array;
}

function toHeaders(raw: Record<string, string | string[] | number | undefined>): Headers {
  const headers = new Headers();
  for (const [k, v] of Object.entries(raw)) {
    if (k.startsWith(":") || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) headers.append(k, String(one));
  }
  return headers;
}

/**
 * Sends raw requests over HTTP/1.1 (keep-alive) and HTTP/2 (one session) to
 * one server. A streaming answer is cut short once its first complete
 * envelope is in: enough to judge the call, and the stream is not left open.
 */
/** Well below nghttp2's burst of 1000 resets per connection. */
const RESETS_PER_SESSION = 300;

export class RawWire {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private session: http2.ClientHttp2Session | undefined;
  /** Streams this side reset on the current session. */
  private resets = 0;
  /** Requests under way on the current session. */
  private inFlight: { count: number; onIdle?: () => void } = { count: 0 };

  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async send(request: RawRequest): Promise<RawAnswer> {
    const raw = request.httpVersion === "2" ? await this.h2(request) : await this.h1(request);
    return interpret(raw);
  }

  close(): void {
    this.agent.destroy();
    this.session?.destroy();
    this.session = undefined;
  }

  private h1(request: RawRequest): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const url = new URL(request.path, this.baseUrl);
      const req = http.request(url, { method: request.method ?? "POST", headers: request.headers, agent: this.agent });
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: toHeaders(res.headers), trailers: toHeaders(res.trailers), body: Buffer.concat(chunks) });
        };
        res.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (request.streaming && res.statusCode === 200 && firstEnvelopeComplete(Buffer.concat(chunks, size))) {
            finish();
            res.destroy();
            req.destroy();
          }
        });
        res.on("end", finish);
        res.on("error", (e) => {
          clearTimeout(timer);
          reject(e);
        });
      });
      req.end(request.body === undefined ? undefined : Buffer.from(request.body));
    });
  }

  private h2(request: RawRequest): Promise<HttpAnswer> {
    // The server's nghttp2 limits how fast a client may reset streams on one
    // connection (the "rapid reset" defence): it ends the connection with
    // INTERNAL_ERROR once the budget is spent. We cut streaming answers short
    // with a reset, so a session is retired, gracefully, after a few hundred.
    if (this.resets >= RESETS_PER_SESSION && this.session) {
      // Closed once its last stream is done: a GOAWAY while a request is
      // still on its way would have the server refuse it.
      const retired = this.session;
      const inFlight = this.inFlight;
      if (inFlight.count === 0) retired.close();
      else inFlight.onIdle = () => retired.close();
      this.session = undefined;
      this.inFlight = { count: 0 };
      this.resets = 0;
    }
    if (!this.session || this.session.closed || this.session.destroyed) {
      this.session = http2.connect(this.baseUrl);
      this.session.on("error", () => {});
      this.session.unref();
    }
    const session = this.session;
    const inFlight = this.inFlight;
    inFlight.count++;
    const settled = () => {
      if (--inFlight.count === 0) inFlight.onIdle?.();
    };
    const reset = (stream: http2.ClientHttp2Stream) => {
      if (stream.closed) return;
      if (session === this.session) this.resets++;
      stream.close(http2.constants.NGHTTP2_CANCEL);
    };
    return new Promise((resolve, reject) => {
      const stream = session.request({ ":method": request.method ?? "POST", ":path": request.path, ...request.headers });
      stream.once("close", settled);
      const timer = setTimeout(() => reset(stream), this.timeoutMs);
      let status = 0;
      let headers = new Headers();
      let trailers = new Headers();
      const chunks: Buffer[] = [];
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve({ status, headers, trailers, body: Buffer.concat(chunks) });
      };
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        headers = toHeaders(h);
      });
      stream.on("trailers", (t) => {
        trailers = toHeaders(t);
      });
      stream.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        if (request.streaming && status === 200 && firstEnvelopeComplete(Buffer.concat(chunks))) {
          finish();
          reset(stream);
        }
      });
      stream.on("end", finish);
      stream.on("close", () => {
        if (done) return;
        clearTimeout(timer);
        if (status !== 0) finish();
        else reject(new Error(`stream closed without an answer (rst code ${stream.rstCode})`));
      });
      stream.on("error", (e) => {
        if (done) return;
        clearTimeout(timer);
        reject(e);
      });
      stream.end(request.body === undefined ? undefined : Buffer.from(request.body));
    });
  }
}

function firstEnvelopeComplete(bytes: Uint8Array): boolean {
  return splitEnvelopes(bytes).frames.length > 0;
}

function answer(raw: HttpAnswer, error: ConnectError | undefined, messages: Uint8Array[] = []): RawAnswer {
  const httpStatus = raw.status;
  const contentType = raw.headers.get("content-type") ?? "";
  if (!error) return { httpStatus, contentType, code: "ok", message: "", reason: undefined, fields: [], messages };
  return {
    httpStatus,
    contentType,
    code: codeName(error.code),
    message: error.rawMessage,
    reason: error.findDetails(ErrorInfoSchema)[0]?.reason,
    fields: error.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field)),
    messages,
  };
}

/**
 * Reads an HTTP answer the way a client would. The protocol is the one the
 * server answered in (a request's content type, not the sender's intent,
 * selects it).
 */
function interpret(raw: HttpAnswer): RawAnswer {
  const contentType = raw.headers.get("content-type") ?? "";
  const protocol: WireProtocol | undefined = /^application\/grpc-web/.test(contentType)
    ? "grpc-web"
    : /^application\/grpc/.test(contentType)
      ? "grpc"
      : /^application\/(json|proto|connect\+)/.test(contentType)
        ? "connect"
        : undefined;
  // Below the RPC protocols: a request no protocol claims (unknown path,
  // content type or HTTP method, oversized headers) gets the bare HTTP status
  // the protocols prescribe.
  if (protocol === undefined || [404, 405, 415, 431].includes(raw.status)) {
    return { httpStatus: raw.status, contentType, code: `http_${raw.status}`, message: contentType, reason: undefined, fields: [], messages: [] };
  }
  const streaming = contentType.startsWith("application/connect+");
  const messageEncoding = raw.headers.get(streaming ? "connect-content-encoding" : "grpc-encoding");
  const framesOf = (body: Uint8Array) =>
    splitEnvelopes(body).frames.map((f) => ((f.flags & 1) === 1 ? { flags: f.flags, data: decompress(f.data, messageEncoding) } : f));
  switch (protocol) {
    case "connect": {
      if (!streaming) {
        if (raw.status === 200) return answer(raw, undefined, [decompress(raw.body, raw.headers.get("content-encoding"))]);
        return answer(raw, errorFromJsonBytes(raw.body, undefined, new ConnectError(`HTTP ${raw.status}`, codeFromHttpStatus(raw.status))));
      }
      if (raw.status !== 200) return answer(raw, new ConnectError(`HTTP ${raw.status}`, codeFromHttpStatus(raw.status)));
      const frames = framesOf(raw.body);
      const messages = frames.filter((f) => (f.flags & endStreamFlag) === 0).map((f) => f.data);
      const end = frames.find((f) => (f.flags & endStreamFlag) === endStreamFlag);
      if (!end) return answer(raw, messages.length ? undefined : new ConnectError("no message and no end of stream", Code.Unknown), messages);
      return answer(raw, endStreamFromJson(end.data).error, messages);
    }
    case "grpc": {
      const error = findTrailerError(raw.headers) ?? findTrailerError(raw.trailers);
      const frames = framesOf(raw.body);
      if (!error && !raw.headers.has("grpc-status") && !raw.trailers.has("grpc-status") && frames.length === 0) {
        return answer(raw, new ConnectError("no message and no grpc-status", Code.Unknown));
      }
      return answer(raw, error, frames.map((f) => f.data));
    }
    case "grpc-web": {
      const headerError = findTrailerError(raw.headers);
      if (headerError) return answer(raw, headerError);
      const frames = framesOf(raw.body);
      const trailer = frames.find((f) => (f.flags & trailerFlag) === trailerFlag);
      const messages = frames.filter((f) => (f.flags & trailerFlag) === 0).map((f) => f.data);
      if (!trailer) return answer(raw, messages.length ? undefined : new ConnectError("no message and no trailer", Code.Unknown), messages);
      return answer(raw, findTrailerError(trailerParse(trailer.data)), messages);
    }
  }
}
