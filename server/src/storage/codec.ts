// How storages encode what they keep, shared so every backend stores the same
// bytes: changes as the binary ChangeEvent (the wire message, decoded straight
// back into it), idempotency records as JSON.
import { decodeEvent, encodeEvent } from "./change-codec.js";
import type { IdempotencyRecord, StoredChange } from "./types.js";

export { decodeEvent, encodeEvent };

// A stored change: the binary ChangeEvent behind the commit time as an 8-byte
// float. Compact, and decoded straight into the wire message.
export function encodeChange(change: StoredChange): Uint8Array {
  const body = encodeEvent(change.event);
  const bytes = new Uint8Array(8 + body.length);
  new DataView(bytes.buffer).setFloat64(0, change.committedAtMs);
  bytes.set(body, 8);
  return bytes;
}
export function decodeChange(bytes: Uint8Array): StoredChange {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { committedAtMs: view.getFloat64(0), event: decodeEvent(bytes.subarray(8)) };
}

// Idempotency records are small and rarely read: JSON, sequences as strings.
export function encodeRecord(record: IdempotencyRecord): string {
  return JSON.stringify({
    ...record,
    clientSequence: record.clientSequence.toString(),
    serverSequence: record.serverSequence.toString(),
    resolved: record.resolved ? Buffer.from(encodeChange(record.resolved)).toString("base64") : undefined,
  });
}
export function decodeRecord(text: string): IdempotencyRecord {
  const raw = JSON.parse(text);
  return {
    ...raw,
    clientSequence: BigInt(raw.clientSequence),
    serverSequence: BigInt(raw.serverSequence),
    resolved: raw.resolved ? decodeChange(Buffer.from(raw.resolved, "base64")) : undefined,
  };
}
