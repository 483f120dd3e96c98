// The binary form of a ChangeEvent, by hand. Every change is encoded once when
// it is committed and decoded on every pull, and protobuf-es's reflective
// codec spent more on that than LevelDB did on the write or the read. The
// schema of ChangeEvent is small and fixed, so this writes the same bytes as
// protobuf-es (fields in number order, defaults omitted; change-codec.test.ts
// checks it against protobuf-es on random messages) several times faster.
//
// Each event remembers its bytes (a WeakMap), so what was decoded from storage
// or encoded at commit is never encoded again: Pull and the live fan-out send
// those very bytes.
import { ChangeEventSchema, type ChangeEvent, type HybridLogicalClock, type Operation } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";

const bytesOf = new WeakMap<ChangeEvent, Uint8Array>();

/** The event's protobuf encoding; made once per event object, then reused. Never mutate an encoded event. */
export function encodeEvent(event: ChangeEvent): Uint8Array {
  let bytes = bytesOf.get(event);
  if (!bytes) {
    bytes = new EventWriter().event(event);
    bytesOf.set(event, bytes);
  }
  return bytes;
}

/** Decodes a ChangeEvent, which then remembers `bytes` as its encoding. */
export function decodeEvent(bytes: Uint8Array): ChangeEvent {
  const event = new EventReader(bytes).event();
  bytesOf.set(event, bytes);
  return event;
}

// ---- writing ------------------------------------------------------------

const LEN = 2;
const VARINT = 0;

/** One scratch buffer for all encodings (JavaScript runs them one at a time); each result is copied out. */
let scratch = Buffer.allocUnsafe(4096);

class EventWriter {
  private buf = scratch;
  private at = 0;

  event(e: ChangeEvent): Uint8Array {
    if (e.operation !== 0) this.varintField(1, e.operation);
    this.stringField(2, e.collection);
    this.stringField(3, e.documentId);
    this.stringField(4, e.document);
    this.stringField(5, e.baseRevision);
    this.stringField(6, e.revision);
    this.stringField(7, e.clientId);
    if (e.clientSequence !== 0n) this.bigVarintField(8, e.clientSequence);
    if (e.timestamp) this.timestamp(e.timestamp);
    if (e.serverSequence !== 0n) this.bigVarintField(10, e.serverSequence);
    if (e.deleted) this.varintField(11, 1);
    if (e.removed) this.varintField(12, 1);
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.at).slice();
  }

  private timestamp(t: HybridLogicalClock): void {
    // Its length is the length of its two varints.
    const size = (t.wallTimeMs !== 0n ? 1 + varintSize(t.wallTimeMs) : 0) + (t.logical !== 0 ? 1 + varintSize(BigInt(t.logical)) : 0);
    this.tag(9, LEN);
    this.varint(size);
    if (t.wallTimeMs !== 0n) this.bigVarintField(1, t.wallTimeMs);
    if (t.logical !== 0) this.varintField(2, t.logical);
  }

  private stringField(no: number, value: string): void {
    if (value === "") return;
    this.tag(no, LEN);
    // At most 3 bytes of UTF-8 per UTF-16 unit.
    this.reserve(5 + value.length * 3);
    const lengthAt = this.at;
    // Leave room for the longest length prefix this string can need, then move
    // the bytes back if the prefix is shorter (rare: strings over 127 bytes).
    const room = varintSizeOf(value.length * 3);
    const written = this.buf.write(value, lengthAt + room, "utf8");
    const prefix = varintSizeOf(written);
    if (prefix !== room) this.buf.copy(this.buf, lengthAt + prefix, lengthAt + room, lengthAt + room + written);
    this.varint(written);
    this.at += written;
  }

  private varintField(no: number, value: number): void {
    this.tag(no, VARINT);
    this.varint(value);
  }

  private bigVarintField(no: number, value: bigint): void {
    this.tag(no, VARINT);
    if (value <= 0xffff_ffffn) {
      this.varint(Number(value));
      return;
    }
    this.reserve(10);
    let v = BigInt.asUintN(64, value);
    while (v > 0x7fn) {
      this.buf[this.at++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.at++] = Number(v);
  }

  private tag(no: number, wireType: number): void {
    this.varint((no << 3) | wireType);
  }

  /** A non-negative number below 2^32 (or an enum value). */
  private varint(value: number): void {
    this.reserve(10);
    if (value < 0) {
      // Negative int32 (an enum out of range): ten bytes, as protobuf does.
      this.bigVarintFieldBody(BigInt.asUintN(64, BigInt(value)));
      return;
    }
    while (value > 0x7f) {
      this.buf[this.at++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buf[this.at++] = value;
  }

  private bigVarintFieldBody(v: bigint): void {
    while (v > 0x7fn) {
      this.buf[this.at++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.at++] = Number(v);
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
    if (bigger.length <= 1024 * 1024 * 4) scratch = bigger;
  }
}

function varintSizeOf(value: number): number {
  let size = 1;
  while (value > 0x7f) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function varintSize(value: bigint): number {
  let v = BigInt.asUintN(64, value);
  let size = 1;
  while (v > 0x7fn) {
    v >>= 7n;
    size++;
  }
  return size;
}

// ---- reading ------------------------------------------------------------

const EVENT_TYPE = ChangeEventSchema.typeName;
/** The wire type of each ChangeEvent field, by number. */
const WIRE_TYPES = [-1, VARINT, LEN, LEN, LEN, LEN, LEN, LEN, VARINT, LEN, VARINT, VARINT, VARINT];
const CLOCK_TYPE = "pocket.sync.v1.HybridLogicalClock";

class EventReader {
  private at = 0;
  private readonly buf: Buffer;

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  event(): ChangeEvent {
    const e = {
      $typeName: EVENT_TYPE,
      operation: 0 as Operation,
      collection: "",
      documentId: "",
      document: "",
      baseRevision: "",
      revision: "",
      clientId: "",
      clientSequence: 0n,
      timestamp: undefined as HybridLogicalClock | undefined,
      serverSequence: 0n,
      deleted: false,
      removed: false,
    };
    const end = this.buf.length;
    while (this.at < end) {
      const tag = this.varint32();
      const no = tag >>> 3;
      const wireType = tag & 7;
      if (no >= 1 && no <= 12 && no !== 9) this.expect(wireType, WIRE_TYPES[no]!);
      switch (no) {
        case 1: e.operation = this.varint32() as Operation; break;
        case 2: e.collection = this.string(); break;
        case 3: e.documentId = this.string(); break;
        case 4: e.document = this.string(); break;
        case 5: e.baseRevision = this.string(); break;
        case 6: e.revision = this.string(); break;
        case 7: e.clientId = this.string(); break;
        case 8: e.clientSequence = this.varint64(); break;
        case 9: {
          this.expect(wireType, LEN);
          const length = this.varint32();
          e.timestamp = this.clock(this.at + length);
          break;
        }
        case 10: e.serverSequence = this.varint64(); break;
        case 11: e.deleted = this.varint32() !== 0; break;
        case 12: e.removed = this.varint32() !== 0; break;
        default: this.skip(wireType);
      }
    }
    if (this.at !== end) throw new Error("invalid ChangeEvent: truncated");
    return e as ChangeEvent;
  }

  private clock(end: number): HybridLogicalClock {
    const t = { $typeName: CLOCK_TYPE, wallTimeMs: 0n, logical: 0 };
    while (this.at < end) {
      const tag = this.varint32();
      if (tag >>> 3 === 1) t.wallTimeMs = this.varint64();
      else if (tag >>> 3 === 2) t.logical = this.varint32();
      else this.skip(tag & 7);
    }
    return t as HybridLogicalClock;
  }

  private string(): string {
    const length = this.varint32();
    const start = this.at;
    this.at += length;
    if (this.at > this.buf.length) throw new Error("invalid ChangeEvent: truncated string");
    return this.buf.toString("utf8", start, this.at);
  }

  private varint32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.at >= this.buf.length) throw new Error("invalid ChangeEvent: truncated varint");
      const byte = this.buf[this.at++]!;
      if (shift < 28) result |= (byte & 0x7f) << shift;
      else if (shift === 28) result += (byte & 0x7f) * 2 ** 28;
      if (byte < 0x80) return shift >= 28 ? result : result >>> 0;
      shift += 7;
      if (shift > 63) throw new Error("invalid ChangeEvent: varint too long");
    }
  }

  private varint64(): bigint {
    let low = 0;
    let shift = 0;
    const start = this.at;
    // Up to 7 bytes fit a double exactly (49 bits).
    for (; shift < 49; shift += 7) {
      if (this.at >= this.buf.length) throw new Error("invalid ChangeEvent: truncated varint");
      const byte = this.buf[this.at++]!;
      low += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return BigInt(low);
    }
    this.at = start;
    let value = 0n;
    for (let s = 0n; ; s += 7n) {
      if (this.at >= this.buf.length) throw new Error("invalid ChangeEvent: truncated varint");
      const byte = this.buf[this.at++]!;
      value |= BigInt(byte & 0x7f) << s;
      if (byte < 0x80) return BigInt.asUintN(64, value);
      if (s > 63n) throw new Error("invalid ChangeEvent: varint too long");
    }
  }

  private expect(wireType: number, expected: number): void {
    if (wireType !== expected) throw new Error(`invalid ChangeEvent: wire type ${wireType} where ${expected} belongs`);
  }

  private skip(wireType: number): void {
    switch (wireType) {
      case 0: this.varint64(); return;
      case 1: this.at += 8; return;
      case 2: {
        const length = this.varint32();
        this.at += length;
        return;
      }
      case 5: this.at += 4; return;
      default: throw new Error(`invalid ChangeEvent: wire type ${wireType}`);
    }
  }
}
