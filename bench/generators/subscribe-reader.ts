// A Subscribe stream read at the wire: Connect streaming over HTTP/2, binary
// codec. It parses envelopes and walks the protobuf just far enough to find
// each change's document id and the checkpoint's bytes, so one process can
// follow thousands of streams without becoming the bottleneck.
import http2 from "node:http2";

export interface StreamMessage {
  readonly documentIds: readonly string[];
  /** The message's checkpoint as protobuf bytes (ChangeBatch or Heartbeat), if any. */
  readonly checkpoint: Uint8Array | undefined;
}

const PATH = "/pocket.sync.v1.SyncService/Subscribe";
const END_STREAM = 0b10;

/** Follows one stream until it ends (resolves) or fails (rejects); `signal` closes it. */
export function readSubscribe(
  session: http2.ClientHttp2Session,
  collection: string,
  checkpoint: Uint8Array | undefined,
  signal: AbortSignal,
  onMessage: (message: StreamMessage) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": PATH, "content-type": "application/connect+proto" });
    const onAbort = () => stream.close(http2.constants.NGHTTP2_CANCEL);
    signal.addEventListener("abort", onAbort, { once: true });
    let buffered: Buffer = Buffer.alloc(0);
    let failure: Error | undefined;
    stream.on("data", (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      while (buffered.length >= 5) {
        const length = buffered.readUInt32BE(1);
        if (buffered.length < 5 + length) break;
        const flags = buffered[0]!;
        const payload = buffered.subarray(5, 5 + length);
        buffered = buffered.subarray(5 + length);
        if (flags & END_STREAM) {
          const end = JSON.parse(payload.toString("utf8")) as { error?: { code: string; message?: string } };
          if (end.error) failure = new Error(`stream ended: ${end.error.code}: ${end.error.message ?? ""}`);
        } else {
          onMessage(parseResponse(payload));
        }
      }
    });
    const finish = () => {
      signal.removeEventListener("abort", onAbort);
      if (failure) reject(failure);
      else resolve();
    };
    stream.on("close", finish);
    stream.on("error", (error) => (failure ??= error));
    stream.end(envelope(subscribeRequest(collection, checkpoint)));
  });
}

function subscribeRequest(collection: string, checkpoint: Uint8Array | undefined): Buffer {
  const name = Buffer.from(collection, "utf8");
  const parts = [Buffer.from([0x0a, ...varint(name.length)]), name];
  if (checkpoint) parts.push(Buffer.from([0x12, ...varint(checkpoint.length)]), Buffer.from(checkpoint));
  return Buffer.concat(parts);
}

function envelope(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

function varint(value: number): number[] {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  bytes.push(value);
  return bytes;
}

/** SubscribeResponse: 1 = ChangeBatch {1 = ChangeEvent {3 = document_id}, 2 = Checkpoint}; 2 = Heartbeat {1 = Checkpoint}. */
function parseResponse(bytes: Buffer): StreamMessage {
  const documentIds: string[] = [];
  let checkpoint: Uint8Array | undefined;
  for (const [no, body] of fields(bytes)) {
    if (no === 1) {
      for (const [inner, value] of fields(body)) {
        if (inner === 1) for (const [f, v] of fields(value)) if (f === 3) documentIds.push(v.toString("utf8"));
        if (inner === 2) checkpoint = value;
      }
    } else if (no === 2) {
      for (const [inner, value] of fields(body)) if (inner === 1) checkpoint = value;
    }
  }
  return { documentIds, checkpoint };
}

/** The length-delimited fields of a message (others are skipped). */
function* fields(bytes: Buffer): Generator<[number, Buffer]> {
  let at = 0;
  const read = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
      shift += 7;
    }
  };
  while (at < bytes.length) {
    const tag = read();
    const wireType = tag % 8;
    if (wireType === 2) {
      const length = read();
      yield [Math.floor(tag / 8), bytes.subarray(at, at + length)];
      at += length;
    } else if (wireType === 0) read();
    else if (wireType === 1) at += 8;
    else if (wireType === 5) at += 4;
    else throw new Error(`unexpected wire type ${wireType}`);
  }
}
