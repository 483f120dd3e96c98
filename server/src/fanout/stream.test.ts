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
  core.onCommit((changes, watermark, complete) => hub.publish(changes, watermark, complete));
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

  it("is released from the hub when its caller goes away, even while suspended at a write that never drains", async () => {
    const { core, hub } = await setup(5);
    const abort = new AbortController();
    const stream = streamChanges(core, hub, principal, create(SubscribeRequestSchema, { collections: ["todos"] }), {
      heartbeatMs: 10_000, pageSize: 7, signal: abort.signal,
    });
    await stream.next(); // the transport is now stuck writing this message: next() is never called again
    expect(hub.size).toBe(1);
    abort.abort();
    expect(hub.size).toBe(0);
    await core.push(principal, create(PushRequestSchema, { clientId: "w", changes: [pushed("d", {}, 1)] }));
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
    core.onCommit((changes, watermark, complete) => hub.publish(changes, watermark, complete));
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

describe("live changes in a binary codec", () => {
  it("are encoded once and shared by every subscriber, and decode to the same batch", async () => {
    const core = await SyncCore.open(createMemoryStorage());
    const hub = new FanoutHub({ maxQueuedChanges: 100 });
    core.onCommit((changes, watermark, complete) => hub.publish(changes, watermark, complete));
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
