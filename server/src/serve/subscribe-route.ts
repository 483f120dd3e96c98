// The Subscribe route. Connect's handlers push every message of a stream
// through a chain of async iterables (serialize, compress, join, write): at a
// thousand subscribers that chain was most of the server's CPU, and each open
// stream held its generators, promises and closures. Here a stream is a
// SubscriberSession writing enveloped bytes straight to the HTTP response,
// with the shared encoding of each commit (fanout/encode-once.ts).
//
// Compression (PROTOCOL §5.6): live batches are shared by every subscriber and
// usually one small change, and gzip per subscriber cost 5-15 times the whole
// delivery for a 1.2-1.7x smaller message, so they are never compressed.
// Catch-up pages are each stream's own and large (10-20x smaller gzipped),
// so they are compressed when the client accepts it, as Pull responses are.
import { Code, ConnectError } from "@connectrpc/connect";
import { compressionNegotiate, type Compression } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type http from "node:http";
import { syncError } from "../../../common/src/errors.js";
import { ErrorReason, SubscribeRequestSchema, SyncService, type SubscribeRequest } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { Principal, SyncCore } from "../core/sync-core.js";
import type { FanoutHub } from "../fanout/hub.js";
import { SubscriberSession, type StreamMessage, type StreamSink } from "../fanout/session.js";
import { toConnectError } from "./errors.js";
import type { Guard } from "./guard.js";
import {
  compressedEnvelope,
  encodeMessage,
  encodeResponse,
  endOfStream,
  parseRequest,
  plainEnvelope,
  requestTimeout,
  streamWireOf,
  type StreamWire,
} from "./stream-wire.js";
import { discardRest, stopUploadAfter, type NodeRequest, type NodeResponse } from "./unread-body.js";

export interface SubscribeRouteOptions {
  readonly core: SyncCore;
  readonly hub: FanoutHub;
  readonly guard: Guard;
  readonly defaultHeartbeatMs: number;
  readonly pageSize: number;
  readonly maxQueuedChanges: number;
  readonly readMaxBytes: number;
  /** How much of an oversized request is read and dropped so that the client can read the refusal. */
  readonly maxDiscardBytes: number;
  /** Aborted when the server shuts down: every stream then ends cleanly, even one opening. */
  readonly closing?: AbortSignal;
  /** Called once per stream with its status code when its first message (or its error) goes out. */
  readonly observe?: (code: Code | "ok", startedAt: number) => void;
}

/** Servers cap heartbeats at 30 s (PROTOCOL §5.3); below 50 ms is a busy loop. */
const MAX_HEARTBEAT_MS = 30_000;
const MIN_HEARTBEAT_MS = 50;
const ACCEPTED_COMPRESSION = [compressionGzip, compressionBrotli];
/** As Connect's own default for unary responses. */
const COMPRESS_MIN_BYTES = 1024;
export const SUBSCRIBE_PATH = `/${SyncService.typeName}/${SyncService.method.subscribe.name}`;

export function subscribeRoute(options: SubscribeRouteOptions) {
  return async (app: FastifyInstance) => {
    // The body is read here, as bytes, whatever its content type.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", (_request, _payload, done) => done(null));
    app.post(SUBSCRIBE_PATH, (request, reply) => {
      reply.hijack();
      void serve(options, request, reply);
    });
    // As Connect answers a procedure called with another method (OPTIONS is
    // the CORS preflight, answered by the CORS plugin).
    app.route({
      method: ["GET", "HEAD", "PUT", "DELETE", "PATCH"],
      url: SUBSCRIBE_PATH,
      handler: (_request, reply) => reply.code(405).header("allow", "POST").send(),
    });
  };
}

async function serve(options: SubscribeRouteOptions, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const startedAt = performance.now();
  const res = reply.raw as NodeResponse;
  // Headers fastify's hooks set (CORS) live on the reply until it is sent.
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(name, value);
  const wire = streamWireOf(request.headers["content-type"]);
  if (!wire) {
    (res as http.ServerResponse).writeHead(415, { "content-type": "text/plain" }).end("unsupported content type for a streaming call");
    return;
  }
  const header = (name: string) => {
    const value = request.headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(",") : (value ?? null);
  };
  const compression = compressionNegotiate(ACCEPTED_COMPRESSION, header(wire.encodingHeader), header(wire.acceptEncodingHeader), wire.acceptEncodingHeader);
  const sink = new ResponseSink(res, wire, compression.response, startedAt, options.observe, request.log);
  try {
    if (compression.error) throw compression.error;
    const timeout = requestTimeout(wire, header(wire.timeoutHeader));
    if (timeout.error) throw timeout.error;
    const authorization = header("authorization");
    const body = await readBody(request.raw as NodeRequest, res, options.readMaxBytes, options.maxDiscardBytes);
    const principal = await options.guard.principalOf(authorization);
    const subscribeRequest = await parseRequest(wire, body, compression.request, options.readMaxBytes);
    options.guard.validate(SubscribeRequestSchema, subscribeRequest);
    if (sink.closed) return;
    const session = openSession(options, sink, principal, subscribeRequest, authorization);
    endOnShutdown(session, sink, options.closing);
    if (timeout.timeoutMs !== undefined) sink.deadline(timeout.timeoutMs, () => session.close(new ConnectError("the deadline passed", Code.DeadlineExceeded)));
    await session.open();
  } catch (error) {
    sink.end(error);
  }
}

/**
 * The session of an accepted request, tied to its response. Kept apart from
 * `serve` so that what an open stream holds on to is only this: the session,
 * its sink and the token to re-check (not the request, its headers or body).
 */
function openSession(
  options: SubscribeRouteOptions,
  sink: ResponseSink,
  principal: Principal,
  request: SubscribeRequest,
  authorization: string | null,
): SubscriberSession {
  const asked = request.heartbeatIntervalMs || options.defaultHeartbeatMs;
  const session = new SubscriberSession(options.core, options.hub, principal, request, sink, {
    heartbeatMs: Math.max(MIN_HEARTBEAT_MS, Math.min(asked, MAX_HEARTBEAT_MS, options.defaultHeartbeatMs)),
    pageSize: options.pageSize,
    maxQueuedChanges: options.maxQueuedChanges,
    credentials: options.guard.credentialsOf(authorization, principal),
  });
  sink.attach(session);
  return session;
}

/**
 * The request body, bounded: a streaming request carries one small message.
 * A larger one is refused, once it has been read to its end (unread-body.ts).
 */
async function readBody(req: NodeRequest, res: NodeResponse, maxBytes: number, maxDiscardBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes + 5) break;
      chunks.push(chunk);
    }
  } catch (error) {
    throw syncError(Code.InvalidArgument, ErrorReason.INVALID_ARGUMENT, `cannot read the request: ${(error as Error).message}`);
  }
  if (size > maxBytes + 5) {
    if (!(await discardRest(req, maxDiscardBytes))) stopUploadAfter(req, res);
    throw syncError(Code.ResourceExhausted, ErrorReason.TOO_LARGE, `request is larger than the ${maxBytes} bytes this server accepts`);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** Shutdown ends the stream cleanly, whether it is open already or opening now. */
function endOnShutdown(session: SubscriberSession, sink: ResponseSink, closing: AbortSignal | undefined): void {
  if (!closing) return;
  const end = () => session.close();
  if (closing.aborted) {
    end();
    return;
  }
  closing.addEventListener("abort", end, { once: true });
  sink.onFinished(() => closing.removeEventListener("abort", end));
}

/**
 * Writes a session's messages to an HTTP response in the request's wire
 * form. A catch-up page of 1 KiB or more is compressed when the client
 * accepts it (off the event loop, in zlib's thread pool); messages behind it
 * wait their turn, and the session hears "full" until they are written, so
 * order is kept and nothing piles up.
 */
class ResponseSink implements StreamSink {
  private started = false;
  private finished = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private session: SubscriberSession | undefined;
  /** Writes waiting behind a compression, in order. */
  private backlog: Promise<void> | undefined;

  constructor(
    private readonly res: NodeResponse,
    private readonly wire: StreamWire,
    private readonly compression: Compression | null,
    private readonly startedAt: number,
    private readonly observe: SubscribeRouteOptions["observe"],
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Calls `then` once the response is over, however it ended. */
  onFinished(then: () => void): void {
    this.res.once("close", then);
  }

  /** Passes the response's fate to the session: gone (abandon) or writable again (resume). */
  attach(session: SubscriberSession): void {
    this.session = session;
    this.res.once("close", () => session.abandon());
    this.res.on("drain", () => {
      if (!this.backlog) session.resume();
    });
  }

  /** The client went away, or the stream was ended. */
  get closed(): boolean {
    return this.finished || this.res.destroyed || this.res.writableEnded;
  }

  send(message: StreamMessage): boolean {
    if (this.closed) return true;
    this.start("ok");
    if (message.kind === "response" && this.compression) {
      const payload = encodeResponse(this.wire, message.response);
      if (payload.length >= COMPRESS_MIN_BYTES) return this.later(compressedEnvelope(payload, this.compression));
      if (this.backlog) return this.later(plainEnvelope(payload));
      return this.write(plainEnvelope(payload));
    }
    const bytes = encodeMessage(this.wire, message);
    return this.backlog ? this.later(bytes) : this.write(bytes);
  }

  end(error?: unknown): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.backlog) void this.backlog.then(() => this.finish(error));
    else this.finish(error);
  }

  /** Ends the stream with `onDeadline` after `timeoutMs`. */
  deadline(timeoutMs: number, onDeadline: () => void): void {
    this.timer = setTimeout(onDeadline, timeoutMs);
  }

  private write(bytes: Uint8Array): boolean {
    return (this.res as http.ServerResponse).write(bytes);
  }

  /** Queues bytes (or bytes to come) behind the backlog; the session waits until it is written. */
  private later(bytes: Uint8Array | Promise<Uint8Array>): false {
    const written = (this.backlog ?? Promise.resolve()).then(async () => {
      const ready = await bytes;
      if (!this.res.destroyed && !this.res.writableEnded) this.write(ready);
    });
    this.backlog = written;
    written.then(
      () => {
        if (this.backlog !== written) return;
        this.backlog = undefined;
        if (!this.res.writableNeedDrain) this.session?.resume();
      },
      (error: unknown) => {
        this.log.error({ err: error }, "Subscribe: cannot compress a message");
        this.res.destroy();
      },
    );
    return false;
  }

  private finish(error: unknown): void {
    if (this.res.destroyed || this.res.writableEnded) return;
    const connectError = error === undefined ? undefined : toConnectError(error);
    if (connectError && (connectError.code === Code.Internal || connectError.code === Code.Unknown)) this.log.error({ err: error }, "Subscribe failed");
    this.start(connectError?.code ?? "ok");
    const end = endOfStream(this.wire, connectError);
    if (end.trailers) (this.res as http.ServerResponse).addTrailers(end.trailers);
    (this.res as http.ServerResponse).end(end.body);
  }

  private start(code: Code | "ok"): void {
    if (this.started) return;
    this.started = true;
    this.observe?.(code, this.startedAt);
    const headers: Record<string, string> = { "content-type": this.wire.contentType };
    if (this.compression) headers[this.wire.encodingHeader.toLowerCase()] = this.compression.name;
    (this.res as http.ServerResponse).writeHead(200, headers);
  }
}
