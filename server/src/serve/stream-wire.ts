// The wire forms of a server stream, for the three protocols one port serves:
// Connect (application/connect+proto|json), gRPC (application/grpc[+proto|
// +json]) and gRPC-Web (application/grpc-web[+proto|+json]). Each message is
// an envelope: a flags byte, a 4-byte big-endian length, the payload. They
// differ only in how the stream ends: Connect sends an end-of-stream envelope
// with a JSON status, gRPC sends HTTP trailers, gRPC-Web a trailer envelope.
// The error encodings come from connect-es, so they match its own handlers.
import { fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import * as connectProtocol from "@connectrpc/connect/protocol-connect";
import * as grpcProtocol from "@connectrpc/connect/protocol-grpc";
import * as grpcWebProtocol from "@connectrpc/connect/protocol-grpc-web";
import { syncError } from "../../../common/src/errors.js";
import {
  CheckpointSchema,
  ErrorReason,
  SubscribeRequestSchema,
  SubscribeResponseSchema,
  type ChangeEvent,
  type Checkpoint,
  type SubscribeRequest,
  type SubscribeResponse,
} from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { sharedChanges, type Codec } from "../fanout/encode-once.js";
import type { StreamMessage } from "../fanout/session.js";

export type StreamProtocol = "connect" | "grpc" | "grpc-web";

export interface StreamWire {
  readonly protocol: StreamProtocol;
  readonly codec: Codec;
  /** Content type of the response. */
  readonly contentType: string;
  /** Request headers naming the deadline, the request's compression and the accepted ones. */
  readonly timeoutHeader: string;
  readonly encodingHeader: string;
  readonly acceptEncodingHeader: string;
}

const COMPRESSED = 0b0000_0001;
const CONNECT_END_STREAM = 0b0000_0010;
const GRPC_WEB_TRAILER = 0b1000_0000;

/** The wire of a streaming request with this content type, if it is one we serve. */
export function streamWireOf(contentType: string | undefined): StreamWire | undefined {
  if (!contentType) return undefined;
  const connect = connectProtocol.parseContentType(contentType);
  if (connect?.stream) {
    return {
      protocol: "connect",
      codec: connect.binary ? "binary" : "json",
      contentType: connect.binary ? connectProtocol.contentTypeStreamProto : connectProtocol.contentTypeStreamJson,
      timeoutHeader: connectProtocol.headerTimeout,
      encodingHeader: connectProtocol.headerStreamEncoding,
      acceptEncodingHeader: connectProtocol.headerStreamAcceptEncoding,
    };
  }
  const grpcWeb = grpcWebProtocol.parseContentType(contentType);
  if (grpcWeb && !grpcWeb.text) {
    return {
      protocol: "grpc-web",
      codec: grpcWeb.binary ? "binary" : "json",
      contentType: grpcWeb.binary ? grpcWebProtocol.contentTypeProto : grpcWebProtocol.contentTypeJson,
      timeoutHeader: grpcWebProtocol.headerTimeout,
      encodingHeader: grpcWebProtocol.headerEncoding,
      acceptEncodingHeader: grpcWebProtocol.headerAcceptEncoding,
    };
  }
  const grpc = grpcProtocol.parseContentType(contentType);
  if (grpc) {
    return {
      protocol: "grpc",
      codec: grpc.binary ? "binary" : "json",
      contentType: grpc.binary ? grpcProtocol.contentTypeProto : grpcProtocol.contentTypeJson,
      timeoutHeader: grpcProtocol.headerTimeout,
      encodingHeader: grpcProtocol.headerEncoding,
      acceptEncodingHeader: grpcProtocol.headerAcceptEncoding,
    };
  }
  return undefined;
}

/** The deadline a request asks for, in ms, or an `invalid_argument` error. */
export function requestTimeout(wire: StreamWire, value: string | null): { timeoutMs?: number; error?: ConnectError } {
  const parse = wire.protocol === "connect" ? connectProtocol.parseTimeout : grpcProtocol.parseTimeout;
  const { timeoutMs, error } = parse(value, Number.MAX_SAFE_INTEGER);
  return { timeoutMs, error: error && invalid(error.rawMessage) };
}

const invalid = (message: string) => syncError(Code.InvalidArgument, ErrorReason.INVALID_ARGUMENT, message);

/** Decodes the single enveloped request message of a server-streaming call. */
export async function parseRequest(
  wire: StreamWire,
  body: Uint8Array,
  compression: Compression | null,
  readMaxBytes: number,
): Promise<SubscribeRequest> {
  if (body.length < 5) throw invalid("protocol error: the request body is not an enveloped message");
  const flags = body[0]!;
  const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1);
  if ((flags & ~COMPRESSED) !== 0) throw invalid(`protocol error: invalid envelope flags ${flags}`);
  if (body.length !== 5 + length) {
    throw invalid(body.length < 5 + length ? "protocol error: the request message is truncated" : "protocol error: a server-streaming call takes exactly one request message");
  }
  let payload = body.subarray(5);
  if (flags & COMPRESSED) {
    if (!compression) throw invalid("protocol error: received a compressed message without a message encoding");
    try {
      payload = await compression.decompress(payload, readMaxBytes);
    } catch (error) {
      const connectError = ConnectError.from(error);
      throw connectError.code === Code.ResourceExhausted
        ? syncError(Code.ResourceExhausted, ErrorReason.TOO_LARGE, connectError.rawMessage)
        : invalid(`cannot decompress the request: ${connectError.rawMessage}`);
    }
  }
  try {
    return wire.codec === "binary"
      ? fromBinary(SubscribeRequestSchema, payload)
      : fromJsonString(SubscribeRequestSchema, new TextDecoder("utf-8", { fatal: true }).decode(payload), { ignoreUnknownFields: true });
  } catch (error) {
    throw invalid(`cannot decode the request: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const utf8 = new TextEncoder();

function envelope(flags: number, parts: readonly Uint8Array[]): Uint8Array {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(5 + length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, length);
  let at = 5;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * One stream message as enveloped bytes. Live changes use the shared
 * encoding; a live message whose checkpoint is shared too (fanout/hub.ts,
 * SharedCheckpoints) is the same for the whole group, and encoded once.
 */
export function encodeMessage(wire: StreamWire, message: StreamMessage): Uint8Array {
  if (message.kind === "response") return plainEnvelope(encodeResponse(wire, message.response));
  let last = lastLive.get(message.changes);
  if (!last || last.checkpoint !== message.checkpoint) lastLive.set(message.changes, (last = { checkpoint: message.checkpoint }));
  return (last[wire.codec] ??= encodeLive(wire.codec, message.changes, message.checkpoint));
}

/** The last live message made of each shared array of changes, per codec. */
const lastLive = new WeakMap<readonly ChangeEvent[], { readonly checkpoint: Checkpoint; binary?: Uint8Array; json?: Uint8Array }>();

function encodeLive(codec: Codec, changes: readonly ChangeEvent[], checkpoint: Checkpoint): Uint8Array {
  const encoded = sharedChanges(changes, codec);
  return codec === "binary" ? liveBinary(encoded, checkpoint) : liveJson(encoded, checkpoint);
}

/** A message of one stream's own, unenveloped. */
export function encodeResponse(wire: StreamWire, response: SubscribeResponse): Uint8Array {
  return wire.codec === "binary" ? toBinary(SubscribeResponseSchema, response) : utf8.encode(toJsonString(SubscribeResponseSchema, response));
}

/** An envelope around `payload` compressed with `compression`. */
export async function compressedEnvelope(payload: Uint8Array, compression: Compression): Promise<Uint8Array> {
  return envelope(COMPRESSED, [await compression.compress(payload)]);
}

/** An uncompressed envelope around `payload`. */
export function plainEnvelope(payload: Uint8Array): Uint8Array {
  return envelope(0, [payload]);
}

// SubscribeResponse{changes(1): ChangeBatch{checkpoint(2), caught_up(3): true, changes(1)...}}:
// protobuf fields may come in any order, so the subscriber's own part goes
// first and the shared changes are appended as they are.
function liveBinary(changes: Uint8Array, checkpoint: Checkpoint): Uint8Array {
  const position = toBinary(CheckpointSchema, checkpoint);
  const own = [0x12, ...varint(position.length)];
  const caughtUp = [0x18, 0x01];
  const batchLength = own.length + position.length + caughtUp.length + changes.length;
  return envelope(0, [Uint8Array.from([0x0a, ...varint(batchLength), ...own]), position, Uint8Array.from(caughtUp), changes]);
}

function liveJson(changes: Uint8Array, checkpoint: Checkpoint): Uint8Array {
  const own = utf8.encode(`{"changes":{"checkpoint":${toJsonString(CheckpointSchema, checkpoint)},"caughtUp":true,"changes":`);
  return envelope(0, [own, changes, CLOSE_LIVE_JSON]);
}
const CLOSE_LIVE_JSON = utf8.encode("}}");

function varint(value: number): number[] {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  bytes.push(value);
  return bytes;
}

/** How the stream ends on this wire: a last envelope, or HTTP trailers (gRPC). */
export function endOfStream(wire: StreamWire, error: ConnectError | undefined): { body?: Uint8Array; trailers?: Record<string, string> } {
  switch (wire.protocol) {
    case "connect":
      return { body: envelope(CONNECT_END_STREAM, [utf8.encode(JSON.stringify(connectProtocol.endStreamToJson(new Headers(), error, {})))]) };
    case "grpc":
      return { trailers: headersObject(grpcProtocol.setTrailerStatus(new Headers(), error)) };
    case "grpc-web":
      return { body: envelope(GRPC_WEB_TRAILER, [grpcWebProtocol.trailerSerialize(grpcProtocol.setTrailerStatus(new Headers(), error))]) };
  }
}

function headersObject(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => (out[name] = value));
  return out;
}
