// Subscribers for scripts/measure-cluster.ts, in a worker thread (plain
// JavaScript: a worker does not inherit the TypeScript loader): raw HTTP/2
// Subscribe streams (Connect, binary) that count the changes they receive
// without decoding them, so the clients cost as little as possible next to
// the servers they measure. The parent sends the encoded SubscribeRequest.
// Counts go back through shared memory, per worker: [changes received,
// lowest sequence every one of its streams has reached, streams open,
// messages with changes received].
import http2 from "node:http2";
import { parentPort, workerData } from "node:worker_threads";

/** Reads a varint at `at`; returns [value, next offset]. */
function varint(buf, at) {
  let value = 0n;
  let shift = 0n;
  for (; at < buf.length; shift += 7n) {
    const byte = buf[at++];
    value |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [value, at];
  }
  throw new Error("truncated varint");
}

/** Calls visit(field, start, end, value) for each field of the message in [from, to); visit returning false stops. */
function fields(buf, from, to, visit) {
  for (let at = from; at < to; ) {
    const [key, next] = varint(buf, at);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) {
      const [value, after] = varint(buf, next);
      if (visit(field, next, after, value) === false) return;
      at = after;
    } else if (wire === 2) {
      const [length, start] = varint(buf, next);
      const end = start + Number(length);
      if (visit(field, start, end) === false) return;
      at = end;
    } else if (wire === 1) at = next + 8;
    else if (wire === 5) at = next + 4;
    else return;
  }
}

/** SubscribeResponse.changes (1) -> ChangeBatch.changes (1) -> ChangeEvent.server_sequence (10). */
function countChanges(message, onChanges) {
  let count = 0;
  let last = 0n;
  fields(message, 0, message.length, (field, start, end) => {
    if (field !== 1) return; // a heartbeat
    fields(message, start, end, (batchField, eventStart, eventEnd) => {
      if (batchField !== 1) return;
      count++;
      fields(message, eventStart, eventEnd, (eventField, _s, _e, value) => {
        if (eventField !== 10) return;
        last = value;
        return false;
      });
    });
  });
  if (count) onChanges(count, last);
}

/** One stream; returns a function that ends it. */
function subscribe(baseUrl, request, onChanges, onOpen) {
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  const envelope = Buffer.alloc(5 + request.length);
  envelope.writeUInt32BE(request.length, 1);
  envelope.set(request, 5);
  const stream = session.request({
    ":method": "POST",
    ":path": "/pocket.sync.v1.SyncService/Subscribe",
    "content-type": "application/connect+proto",
    "connect-protocol-version": "1",
  });
  stream.end(envelope);
  let pending = Buffer.alloc(0);
  stream.once("data", onOpen);
  stream.on("data", (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(1);
      if (pending.length < 5 + length) break;
      countChanges(pending.subarray(5, 5 + length), onChanges);
      pending = pending.subarray(5 + length);
    }
  });
  stream.on("error", () => {});
  return () => session.destroy();
}

const { urls, first, count, slot, shared, request } = workerData;
const counters = new BigInt64Array(shared);
const base = slot * 4;
const reached = new Array(count).fill(0n);
let opened = 0;
const closers = Array.from({ length: count }, (_, i) =>
  subscribe(
    urls[(first + i) % urls.length],
    Buffer.from(request),
    (n, last) => {
      Atomics.add(counters, base, BigInt(n));
      Atomics.add(counters, base + 3, 1n);
      reached[i] = last;
    },
    () => opened++,
  ),
);
const timer = setInterval(() => {
  let low = reached[0] ?? 0n;
  for (const r of reached) if (r < low) low = r;
  Atomics.store(counters, base + 1, low);
  Atomics.store(counters, base + 2, BigInt(opened));
}, 2);
parentPort.on("message", () => {
  clearInterval(timer);
  for (const close of closers) close();
  parentPort.close();
});
