// A Subscribe stream without a wire: the session against a sink that records
// what it is given and can say "full", as a slow reader's transport does.
import { create, fromBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { PushRequestSchema, SubscribeResponseSchema, type ChangeEvent, type Checkpoint } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { SyncCore } from "../core/sync-core.js";
import { pushed } from "../serve/testing.js";
import { encodeMessage, streamWireOf } from "../serve/stream-wire.js";
import { createMemoryStorage } from "../storage/index.js";
import { sharedChanges } from "./encode-once.js";
import { FanoutHub } from "./hub.js";
import { SubscriberSession, type SessionOptions, type StreamMessage, type StreamSink } from "./session.js";

const principal = { id: "p" };
const sessions: SubscriberSession[] = [];
afterEach(() => sessions.splice(0).forEach((s) => s.abandon()));

class RecordingSink implements StreamSink {
  readonly messages: StreamMessage[] = [];
  ended: { error?: unknown } | undefined;
  /** While set, every send reports a full transport. */
  full = false;
  send(message: StreamMessage): boolean {
    this.messages.push(message);
    return !this.full;
  }
  end(error?: unknown): void {
    this.ended = { error };
  }
  changes(): ChangeEvent[] {
    return this.messages.flatMap((m) => (m.kind === "live" ? [...m.changes] : m.response.event.case === "changes" ? m.response.event.value.changes : []));
  }
  ids(): string[] {
    return this.changes().map((c) => c.documentId);
  }
  checkpoints(): Checkpoint[] {
    return this.messages.map((m) => (m.kind === "live" ? m.checkpoint : m.response.event.value!.checkpoint!));
  }
}

async function setup() {
  const core = await SyncCore.open(createMemoryStorage());
  const hub = new FanoutHub();
  core.onCommit((changes, watermark) => hub.publish(changes, watermark));
  let sequence = 0;
  const write = (id: string, collection = "todos") =>
    core.push(principal, create(PushRequestSchema, { clientId: "w", changes: [pushed(id, { id }, ++sequence, { collection })] }));
  const open = async (collections: string[], options: Partial<SessionOptions> = {}, checkpoint?: Checkpoint) => {
    const sink = new RecordingSink();
    const session = new SubscriberSession(core, hub, principal, { collections, checkpoint }, sink, {
      heartbeatMs: 10_000, pageSize: 10, maxQueuedChanges: 100, ...options,
    });
    sessions.push(session);
    await session.open();
    await until(() => sink.messages.length > 0);
    return { sink, session };
  };
  return { core, hub, write, open };
}

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe("a subscriber session", () => {
  it("sends its first message at once, caught up, then live changes in order", async () => {
    const { write, open } = await setup();
    await write("before");
    const { sink } = await open(["todos"]);
    const first = sink.messages[0]!;
    expect(first.kind === "response" && first.response.event.case === "changes" && first.response.event.value.caughtUp).toBe(true);
    for (const id of ["a", "b", "c"]) await write(id);
    expect(sink.ids()).toEqual(["before", "a", "b", "c"]);
    expect(sink.checkpoints().at(-1)?.collections.todos).toBe(4n);
  });

  it("misses nothing committed while it catches up, and repeats nothing the catch-up covered", async () => {
    const { write, open, core } = await setup();
    for (let i = 0; i < 35; i++) await write(`old${i}`);
    // Commit while the catch-up pages are being read.
    const writing = (async () => {
      for (let i = 0; i < 20; i++) await write(`new${i}`);
    })();
    const { sink } = await open(["todos"], { pageSize: 5 });
    await writing;
    await until(() => sink.ids().length >= 55);
    const ids = sink.ids();
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...Array.from({ length: 35 }, (_, i) => `old${i}`), ...Array.from({ length: 20 }, (_, i) => `new${i}`)]);
    const sequences = sink.changes().map((c) => c.serverSequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => (a < b ? -1 : 1)));
    expect(core.visibleSequence).toBe(55n);
  });

  it("gives every subscriber of the same collections the same array, encoded once per codec", async () => {
    const { write, open } = await setup();
    const a = await open(["todos"]);
    const b = await open(["todos"]);
    await write("x");
    const liveA = a.sink.messages.find((m) => m.kind === "live");
    const liveB = b.sink.messages.find((m) => m.kind === "live");
    expect(liveA && liveB && liveA.kind === "live" && liveB.kind === "live" && liveA.changes === liveB.changes).toBe(true);
    if (liveA?.kind !== "live" || liveB?.kind !== "live") return;
    expect(sharedChanges(liveA.changes, "binary")).toBe(sharedChanges(liveB.changes, "binary"));
    // On the wire it is the ordinary message, with each subscriber's own checkpoint.
    const wire = streamWireOf("application/connect+proto")!;
    const bytes = encodeMessage(wire, liveA);
    const decoded = fromBinary(SubscribeResponseSchema, bytes.subarray(5));
    expect(decoded.event.case === "changes" && decoded.event.value.changes.map((c) => c.documentId)).toEqual(["x"]);
    expect(decoded.event.case === "changes" && decoded.event.value.checkpoint?.collections.todos).toBe(1n);
    expect(decoded.event.case === "changes" && decoded.event.value.caughtUp).toBe(true);
    // Their checkpoints are the group's shared one, so the whole message is
    // encoded once: the same bytes go to both.
    expect(liveA.checkpoint).toBe(liveB.checkpoint);
    expect(encodeMessage(wire, liveB)).toBe(bytes);
    const json = encodeMessage(streamWireOf("application/connect+json")!, liveA);
    const parsed = JSON.parse(new TextDecoder().decode(json.subarray(5)));
    expect(parsed.changes.changes[0].documentId).toBe("x");
    expect(parsed.changes.checkpoint.collections.todos).toBe("1");
  });

  it("holds back while its transport is full and sends the held changes when it drains", async () => {
    const { write, open } = await setup();
    const { sink, session } = await open(["todos"]);
    sink.full = true;
    await write("a"); // sent, and the transport says it is full
    await write("b");
    await write("c");
    expect(sink.ids()).toEqual(["a"]);
    sink.full = false;
    session.resume();
    expect(sink.ids()).toEqual(["a", "b", "c"]);
    // Each held commit goes with its own checkpoint, never one ahead of it.
    const live = sink.messages.filter((m) => m.kind === "live");
    expect(live.map((m) => m.kind === "live" && m.checkpoint.collections.todos)).toEqual([1n, 2n, 3n]);
  });

  it("falls back to catching up from storage when a slow reader's queue overflows, missing nothing", async () => {
    const { write, open, hub } = await setup();
    const { sink, session } = await open(["todos"], { maxQueuedChanges: 5, pageSize: 7 });
    sink.full = true;
    for (let i = 1; i <= 40; i++) await write(`d${i}`);
    expect(sink.ids()).toEqual(["d1"]);
    sink.full = false;
    session.resume();
    await until(() => sink.ids().length >= 40);
    expect(sink.ids()).toEqual(Array.from({ length: 40 }, (_, i) => `d${i + 1}`));
    // The rest came in pages of at most 7 from storage, not from a 40-change queue.
    expect(sink.messages.every((m) => m.kind === "live" || m.response.event.case !== "changes" || m.response.event.value.changes.length <= 7)).toBe(true);
    session.abandon();
    expect(hub.size).toBe(0);
  });

  it("is not touched by commits in collections it does not follow, yet its heartbeat checkpoint advances", async () => {
    const { write, open } = await setup();
    const { sink } = await open(["notes"], { heartbeatMs: 60 });
    await write("t", "todos");
    expect(sink.messages.length).toBe(1);
    await until(() => sink.messages.some((m) => m.kind === "response" && m.response.event.case === "heartbeat"));
    const beat = sink.messages.find((m) => m.kind === "response" && m.response.event.case === "heartbeat")!;
    expect(beat.kind === "response" && beat.response.event.value?.checkpoint?.collections.notes).toBe(1n);
  });

  it("keeps its heartbeat rhythm and re-checks credentials every interval while changes flow", async () => {
    const { write, open } = await setup();
    let checks = 0;
    const { sink } = await open(["quiet", "busy"], { heartbeatMs: 80, credentials: { check: () => {}, recheck: async () => void checks++ } });
    const started = Date.now();
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        await write(`b${i}`, "busy");
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await new Promise((r) => setTimeout(r, 400));
    writing = false;
    await writer;
    // Traffic never postpones the credential check.
    expect(checks).toBeGreaterThanOrEqual(Math.floor((Date.now() - started) / 80) - 2);
    expect(sink.ids().length).toBeGreaterThan(10);
  });

  it("ends with the re-check's error once credentials are revoked, and leaves the hub", async () => {
    const { open, hub } = await setup();
    let valid = true;
    const { sink } = await open(["todos"], {
      heartbeatMs: 50,
      credentials: {
        check: () => {},
        recheck: async () => {
          if (!valid) throw new Error("revoked");
        },
      },
    });
    valid = false;
    await until(() => sink.ended !== undefined);
    expect((sink.ended?.error as Error).message).toBe("revoked");
    expect(hub.size).toBe(0);
  });

  it("sends heartbeats in silence, each carrying a resumable checkpoint", async () => {
    const { open, core } = await setup();
    const { sink } = await open(["todos"], { heartbeatMs: 50 });
    await until(() => sink.messages.filter((m) => m.kind === "response" && m.response.event.case === "heartbeat").length >= 2);
    const beat = sink.messages.find((m) => m.kind === "response" && m.response.event.case === "heartbeat");
    expect(beat?.kind === "response" && beat.response.event.value?.checkpoint?.epoch).toBe(core.epoch);
  });

  it("filters documents the principal may not read, with the read rule answering asynchronously", async () => {
    const core = await SyncCore.open(createMemoryStorage(), {
      authorize: async (_p, action, _c, change) => action !== "read" || !change || !change.documentId.startsWith("secret"),
    });
    const hub = new FanoutHub();
    core.onCommit((changes, watermark) => hub.publish(changes, watermark));
    const sink = new RecordingSink();
    const session = new SubscriberSession(core, hub, principal, { collections: ["todos"] }, sink, { heartbeatMs: 10_000, pageSize: 10, maxQueuedChanges: 100 });
    sessions.push(session);
    await session.open();
    let n = 0;
    for (const id of ["a", "secret1", "b", "secret2", "c"]) await core.push(principal, create(PushRequestSchema, { clientId: "w", changes: [pushed(id, {}, ++n)] }));
    await until(() => sink.ids().length >= 3);
    await new Promise((r) => setTimeout(r, 20));
    expect(sink.ids()).toEqual(["a", "b", "c"]);
  });
});

describe("a commit whose outcome was unknown", () => {
  it("sends every subscriber to storage, so what it wrote is not missed", async () => {
    const core = await SyncCore.open(createMemoryStorage());
    const hub = new FanoutHub();
    let heard = true;
    core.onCommit((changes, watermark, complete) => heard && hub.publish(changes, watermark, complete));
    const sink = new RecordingSink();
    const session = new SubscriberSession(core, hub, principal, { collections: ["todos"] }, sink, { heartbeatMs: 60_000, pageSize: 10, maxQueuedChanges: 100 });
    sessions.push(session);
    await session.open();
    const push = (id: string, n: number) => core.push(principal, create(PushRequestSchema, { clientId: "w", changes: [pushed(id, { id }, n)] }));
    await push("a", 1);
    // The commit of b is written, but the hub only hears that something up
    // to its sequence may have been.
    heard = false;
    await push("b", 2);
    heard = true;
    expect(sink.ids()).toEqual(["a"]);
    hub.publish([], core.visibleSequence, false);
    await until(() => sink.ids().includes("b"));
    await push("c", 3);
    await until(() => sink.ids().includes("c"));
    expect(sink.ids()).toEqual(["a", "b", "c"]);
  });
});

describe("credentials", () => {
  class Revoked extends Error {}

  it("are checked before every message: a revocation stops a busy stream at once, and nothing committed after it is sent", async () => {
    const { write, open, hub, core } = await setup();
    let valid = true;
    let revokedAtSequence = -1n;
    const { sink } = await open(["todos"], {
      heartbeatMs: 60_000,
      credentials: { check: () => { if (!valid) throw new Revoked(); }, recheck: async () => {} },
    });
    for (let i = 1; i <= 40; i++) {
      await write(`d${i}`);
      if (i === 20) {
        valid = false;
        revokedAtSequence = core.visibleSequence;
      }
    }
    expect(sink.ended?.error).toBeInstanceOf(Revoked);
    const sequences = sink.changes().map((c) => c.serverSequence);
    expect(sequences.length).toBe(20);
    expect(sequences.every((s) => s <= revokedAtSequence)).toBe(true);
    expect(hub.size).toBe(0);
  });

  it("are re-established once per heartbeat interval whatever the traffic, not only at heartbeats", async () => {
    const { write, open } = await setup();
    const rechecks: number[] = [];
    const started = Date.now();
    const { sink } = await open(["todos"], {
      heartbeatMs: 100,
      credentials: {
        check: () => {},
        recheck: async () => {
          rechecks.push(Date.now() - started);
          if (rechecks.length === 3) throw new Revoked();
        },
      },
    });
    for (let i = 1; sink.ended === undefined; i++) {
      await write(`d${i}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(sink.ended?.error).toBeInstanceOf(Revoked);
    // Deliveries every 10 ms postponed every heartbeat, not the re-checks.
    expect(sink.messages.filter((m) => m.kind === "response" && m.response.event.case === "heartbeat").length).toBe(0);
    expect(rechecks.length).toBe(3);
    expect(rechecks[2]!).toBeLessThan(3 * 100 + 200);
  });

  it("end an idle stream within one heartbeat interval", async () => {
    const { open } = await setup();
    let valid = true;
    const { sink } = await open(["todos"], {
      heartbeatMs: 100,
      credentials: { check: () => { if (!valid) throw new Revoked(); }, recheck: async () => {} },
    });
    valid = false;
    const started = Date.now();
    await until(() => sink.ended !== undefined, 1_000);
    expect(sink.ended?.error).toBeInstanceOf(Revoked);
    expect(Date.now() - started).toBeLessThan(100 + 100);
  });
});

describe("the hub", () => {
  it("counts and forgets its subscribers", async () => {
    const { open, hub } = await setup();
    const one = await open(["todos"]);
    const two = await open(["todos", "notes"]);
    expect(hub.size).toBe(2);
    one.session.abandon();
    two.session.close();
    expect(hub.size).toBe(0);
    expect(two.sink.ended).toEqual({ error: undefined });
  });
});
