import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { PushRequestSchema, SubscribeRequestSchema, SubscribeResponseSchema, type SubscribeResponse } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { SyncCore } from "../core/sync-core.js";
import { pushed } from "../serve/testing.js";
import { createMemoryStorage } from "../storage/index.js";
import { FanoutHub } from "./hub.js";
import { streamChanges } from "./stream.js";

const principal = { id: "p" };

async function setup(maxQueuedChanges: number) {
  const core = await SyncCore.open(createMemoryStorage());
  const hub = new FanoutHub({ maxQueuedChanges });
  core.onCommit((changes, watermark) => hub.publish(changes, watermark));
  return { core, hub };
}
const ids = (messages: SubscribeResponse[]) =>
  messages.flatMap((m) => (m.event.case === "changes" ? m.event.value.changes.map((c) => c.documentId) : []));

describe("a slow subscriber", () => {
  it("is not buffered without bound: it falls back to catching up from storage and misses nothing", async () => {
    const { core, hub } = await setup(5);
    const abort = new AbortController();
    const stream = streamChanges(core, hub, principal, create(SubscribeRequestSchema, { collections: ["todos"] }), {
      heartbeatMs: 10_000, pageSize: 7, signal: abort.signal,
    });
    const first = await stream.next(); // caught up, empty; the reader now stalls
    expect(first.value?.event.value?.caughtUp).toBe(true);
    for (let i = 1; i <= 40; i++) {
      await core.push(principal, create(PushRequestSchema, { clientId: "w", changes: [pushed(`d${i}`, { i }, i)] }));
    }
    const messages: SubscribeResponse[] = [];
    while (ids(messages).length < 40) messages.push((await stream.next()).value as SubscribeResponse);
    expect(ids(messages)).toEqual(Array.from({ length: 40 }, (_, i) => `d${i + 1}`));
    // Catch-up came in pages of 7 from storage, not from a 40-change queue.
    expect(messages.every((m) => m.event.case !== "changes" || m.event.value.changes.length <= 7)).toBe(true);
    abort.abort();
    await stream.return(undefined);
    expect(hub.size).toBe(0);
  });

  it("lets other collections advance the checkpoint without sending empty batches", async () => {
    const { core, hub } = await setup(100);
    const abort = new AbortController();
    const stream = streamChanges(core, hub, principal, create(SubscribeRequestSchema, { collections: ["notes"] }), {
      heartbeatMs: 50, pageSize: 10, signal: abort.signal,
    });
    await stream.next();
    await core.push(principal, create(PushRequestSchema, { clientId: "w", changes: [pushed("t", {}, 1)] }));
    const beat = (await stream.next()).value as SubscribeResponse;
    expect(beat.event.case).toBe("heartbeat");
    expect(beat.event.value?.checkpoint?.collections.notes).toBe(1n);
    abort.abort();
    await stream.return(undefined);
  });
});

describe("heartbeats", () => {
  it("keep their rhythm while commits in other collections keep waking the stream", async () => {
    const core = await SyncCore.open(createMemoryStorage());
    const hub = new FanoutHub({ maxQueuedChanges: 100 });
    core.onCommit((changes, watermark) => hub.publish(changes, watermark));
    const abort = new AbortController();
    const stream = streamChanges(core, hub, principal, create(SubscribeRequestSchema, { collections: ["quiet"] }), {
      heartbeatMs: 100, pageSize: 10, signal: abort.signal,
    });
    await stream.next();
    let writing = true;
    const writer = (async () => {
      for (let i = 1; writing; i++) {
        await core.push(principal, create(PushRequestSchema, { clientId: "busy", changes: [pushed(`d${i}`, {}, i)] }));
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const started = Date.now();
    const beat = (await stream.next()).value as SubscribeResponse;
    const waited = Date.now() - started;
    writing = false;
    await writer;
    expect(beat.event.case).toBe("heartbeat");
    expect(waited).toBeLessThan(1_000);
    abort.abort();
    await stream.return(undefined);
  });
});

describe("credentials", () => {
  class Revoked extends Error {}

  it("are checked before every message: a revocation stops a busy stream at once, and nothing committed after it is sent", async () => {
    const { core, hub } = await setup(1000);
    let valid = true;
    let revokedAtSequence = -1n;
    const abort = new AbortController();
    const stream = streamChanges(core, hub, principal, create(SubscribeRequestSchema, { collections: ["todos"] }), {
      heartbeatMs: 60_000, pageSize: 10, signal: abort.signal,
      credentials: { check: () => { if (!valid) throw new Revoked(); }, recheck: async () => {} },
    });
    await stream.next();
    let writing = true;
    const writer = (async () => {
      for (let i = 1; writing; i++) {
        await core.push(principal, create(PushRequestSchema, { clientId: "busy", changes: [pushed(`d${i}`, {}, i)] }));
        if (i === 20) {
          valid = false;
          revokedAtSequence = core.visibleSequence;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const received: SubscribeResponse[] = [];
    const ended = await (async () => {
      try {
        for (;;) received.push((await stream.next()).value as SubscribeResponse);
      } catch (error) {
        return error;
      }
    })();
    writing = false;
    await writer;
    expect(ended).toBeInstanceOf(Revoked);
    const sequences = received.flatMap((m) => (m.event.case === "changes" ? m.event.value.changes.map((c) => c.serverSequence) : []));
    expect(sequences.length).toBeGreaterThan(0);
    expect(sequences.every((s) => s <= revokedAtSequence)).toBe(true);
    expect(hub.size).toBe(0);
  });

  it("are re-established once per heartbeat interval whatever the traffic, not only at heartbeats", async () => {
    const { core, hub } = await setup(1000);
    const rechecks: number[] = [];
    const abort = new AbortController();
    const started = Date.now();
    const stream = streamChanges(core, hub, principal, create(SubscribeRequestSchema, { collections: ["todos"] }), {
      heartbeatMs: 100, pageSize: 10, signal: abort.signal,
      credentials: {
        check: () => {},
        recheck: async () => {
          rechecks.push(Date.now() - started);
          if (rechecks.length === 3) throw new Revoked();
        },
      },
    });
    await stream.next();
    let writing = true;
    const writer = (async () => {
      for (let i = 1; writing; i++) {
        await core.push(principal, create(PushRequestSchema, { clientId: "busy", changes: [pushed(`d${i}`, {}, i)] }));
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    let heartbeats = 0;
    const ended = await (async () => {
      try {
        for (;;) if (((await stream.next()).value as SubscribeResponse).event.case === "heartbeat") heartbeats++;
      } catch (error) {
        return error;
      }
    })();
    writing = false;
    await writer;
    expect(ended).toBeInstanceOf(Revoked);
    // Deliveries every 10 ms postponed every heartbeat, not the re-checks.
    expect(heartbeats).toBe(0);
    expect(rechecks.length).toBe(3);
    expect(rechecks[2]!).toBeLessThan(3 * 100 + 200);
  });

  it("end an idle stream within one heartbeat interval", async () => {
    const { core, hub } = await setup(10);
    let valid = true;
    const abort = new AbortController();
    const stream = streamChanges(core, hub, principal, create(SubscribeRequestSchema, { collections: ["todos"] }), {
      heartbeatMs: 100, pageSize: 10, signal: abort.signal,
      credentials: { check: () => { if (!valid) throw new Revoked(); }, recheck: async () => {} },
    });
    await stream.next();
    valid = false;
    const started = Date.now();
    await expect(stream.next()).rejects.toBeInstanceOf(Revoked);
    expect(Date.now() - started).toBeLessThan(100 + 100);
  });
});

describe("live changes in a binary codec", () => {
  it("are encoded once and shared by every subscriber, and decode to the same batch", async () => {
    const core = await SyncCore.open(createMemoryStorage());
    const hub = new FanoutHub({ maxQueuedChanges: 100 });
    core.onCommit((changes, watermark) => hub.publish(changes, watermark));
    const abort = new AbortController();
    const open = (binary: boolean) =>
      streamChanges(core, hub, principal, create(SubscribeRequestSchema, { collections: ["todos"] }), {
        binary, heartbeatMs: 10_000, pageSize: 10, signal: abort.signal,
      });
    const streams = [open(true), open(true), open(false)];
    for (const s of streams) await s.next();
    await core.push(principal, create(PushRequestSchema, { clientId: "w", changes: [pushed("a", { n: 1 }, 1), pushed("b", { n: 2 }, 2)] }));
    const [first, second, plain] = await Promise.all(streams.map(async (s) => (await s.next()).value as SubscribeResponse));
    const batchOf = (m: SubscribeResponse | undefined) => (m?.event.case === "changes" ? m.event.value : undefined);
    // The same encoded bytes, not a copy: the encoding happened once.
    expect(batchOf(first)?.$unknown?.length).toBe(2);
    batchOf(first)!.$unknown!.forEach((field, i) => expect(field).toBe(batchOf(second)!.$unknown![i]));
    // On the wire it is the ordinary batch.
    const decoded = fromBinary(SubscribeResponseSchema, toBinary(SubscribeResponseSchema, first!));
    expect(equals(SubscribeResponseSchema, decoded, plain!)).toBe(true);
    abort.abort();
    await Promise.all(streams.map((s) => s.return(undefined)));
  });
});

describe("the hub", () => {
  it("does not wake a subscriber for commits in collections it does not follow", async () => {
    const hub = new FanoutHub({ maxQueuedChanges: 10 });
    const subscription = hub.subscribe(["notes"]);
    const abort = new AbortController();
    const waiting = subscription.wait(50, abort.signal);
    hub.publish([{ event: pushed("t", {}, 1), committedAtMs: 0 }], 7n);
    expect(await waiting).toBe("timeout");
    expect(subscription.idleWatermark()).toBe(7n);
    subscription.close();
  });
});
