// The access-control matrix against a real server, over every protocol
// variant: principals with disjoint scopes, a shared collection, a read-only
// principal, a document-level rule, stolen client ids, crafted checkpoints,
// forged, expired and malformed tokens, for Push, Pull and Subscribe. Private
// documents carry a marker naming their owner; every answer any principal
// gets is searched for the others' markers, so nothing may cross unseen.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorInfo } from "../../../common/src/errors.js";
import { CheckpointSchema, type ChangeEvent, type ChangeResult, type Checkpoint, type SubscribeResponse } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { Authorize } from "../core/sync-core.js";
import { anyAuthenticator, scopeAuthorize, staticTokenAuthenticator } from "./auth.js";
import { hmacAuthenticator, signToken } from "./hmac-token.js";
import { eventually, PROTOCOL_VARIANTS, pushed, startServer, syncClient, type ProtocolVariant, type RunningServer } from "./testing.js";

const SECRET = "the-matrix-hmac-secret-0123456789";
const OWNED = ["owned", "ownedlww", "ownedmerge"] as const;
const PRINCIPALS = {
  "alice-token": { id: "alice", collections: ["alice", "shared", ...OWNED] },
  "bob-token": { id: "bob", collections: ["bob", "shared", ...OWNED] },
  "reader-token": { id: "reader", collections: ["shared"], readOnly: true },
};
type Name = "alice" | "bob" | "reader";
const tokenOf = (name: Name) => `${name}-token`;

// Documents of OWNED collections belong to their "owner" field; a tombstone
// keeps no document, so its deleting client names the owner (clients are
// called "<principal>-<device>" here).
const ownerOf = (change: ChangeEvent): string | undefined => {
  if (change.deleted) return change.clientId.split("-")[0];
  try {
    return (JSON.parse(change.document) as { owner?: string }).owner;
  } catch {
    return undefined;
  }
};
const authorize: Authorize = (principal, action, collection, change) => {
  if (!scopeAuthorize(principal, action, collection)) return false;
  if (!change || !(OWNED as readonly string[]).includes(collection)) return true;
  // A delete is judged by the read rule on what it would delete.
  return (action === "write" && change.deleted) || ownerOf(change) === principal.id;
};

/** A private document: its marker must never reach anyone but its owner. */
const secretOf = (owner: Name, n: number | string) => ({ owner, note: `SECRET-${owner}-${n}` });
const MARKER = /SECRET-(alice|bob|reader)-/g;
const json = (value: unknown) => JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));

/** Fails if `answer`, received by `who`, carries another principal's marker. */
function expectOnlyOwn(who: Name, answer: unknown, what: string) {
  const owners = [...json(answer).matchAll(MARKER)].map((m) => m[1]);
  expect(owners.filter((o) => o !== who), `${what}: ${who} received documents of others`).toEqual([]);
}

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}
function expectRefused(error: ConnectError, code: Code, reason: string) {
  expect(Code[error.code]).toBe(Code[code]);
  expect(errorInfo(error)?.reason).toBe(reason);
}
const firstMessage = (stream: AsyncIterable<SubscribeResponse>) => stream[Symbol.asyncIterator]().next();

/** Follows a Subscribe stream, checking every message it gets. */
function follow(who: Name, stream: AsyncIterable<SubscribeResponse>) {
  const changes: ChangeEvent[] = [];
  let checkpoint: Checkpoint | undefined;
  let ended: unknown;
  const done = (async () => {
    try {
      for await (const message of stream) {
        expectOnlyOwn(who, message, "subscribe");
        if (message.event.case === "changes") changes.push(...message.event.value.changes);
        checkpoint = message.event.value?.checkpoint ?? checkpoint;
      }
    } catch (error) {
      ended = error;
    }
  })();
  return { changes, done, get checkpoint() { return checkpoint; }, get ended() { return ended; } };
}

const rejected = (result: ChangeResult | undefined) => {
  if (result?.outcome.case !== "rejected") throw new Error(`expected rejected, got ${result?.outcome.case}`);
  return result.outcome.value;
};
const revisionOf = (result: ChangeResult | undefined) => {
  if (result?.outcome.case !== "accepted") throw new Error(`expected accepted, got ${result?.outcome.case}`);
  return result.outcome.value.revision;
};

describe.each(PROTOCOL_VARIANTS)("access control over %s", (variant: ProtocolVariant) => {
  let running: RunningServer;
  const streams: Array<{ abort: AbortController; done: Promise<void> }> = [];
  const client = (name: Name) => syncClient(running.url, variant, tokenOf(name));
  const sequence = () => running.server.core.visibleSequence;
  let seq = 0;
  const next = () => ++seq;

  beforeAll(async () => {
    running = await startServer({
      authenticate: anyAuthenticator(staticTokenAuthenticator(PRINCIPALS), hmacAuthenticator(SECRET)),
      authorize,
      conflicts: { collections: { ownedlww: "last-write-wins", ownedmerge: "merge" } },
      heartbeatMs: 100,
    });
  });
  afterAll(async () => {
    for (const s of streams) s.abort.abort();
    await Promise.all(streams.map((s) => s.done));
    await running.close();
  });
  function subscribe(who: Name, collections: string[]) {
    const abort = new AbortController();
    const followed = follow(who, client(who).subscribe({ collections, heartbeatIntervalMs: 100 }, { signal: abort.signal }));
    streams.push({ abort, done: followed.done });
    return followed;
  }

  it("keeps disjoint scopes apart on Push, Pull and Subscribe", async () => {
    const alice = client("alice");
    const bob = client("bob");
    expect(revisionOf((await alice.push({ clientId: "alice-phone", changes: [pushed("a-1", secretOf("alice", 1), next(), { collection: "alice" })] })).results[0])).not.toBe("");
    for (const collections of [["alice"], ["bob", "alice"]]) {
      expectRefused(await failure(bob.pull({ collections })), Code.PermissionDenied, "ERROR_REASON_PERMISSION_DENIED");
      expectRefused(await failure(firstMessage(bob.subscribe({ collections }))), Code.PermissionDenied, "ERROR_REASON_PERMISSION_DENIED");
    }
    const before = sequence();
    const { results } = await bob.push({ clientId: "bob-phone", changes: [pushed("b-into-a", secretOf("bob", 1), next(), { collection: "alice" }), pushed("b-1", secretOf("bob", 2), next(), { collection: "bob" })] });
    expect(rejected(results[0])).toMatchObject({ code: Code.PermissionDenied, reason: "ERROR_REASON_PERMISSION_DENIED" });
    expect(results[1]?.outcome.case).toBe("accepted");
    expect(sequence()).toBe(before + 1n);
    const own = await alice.pull({ collections: ["alice"] });
    expectOnlyOwn("alice", own, "pull");
    expect(own.changes.map((c) => c.documentId)).toEqual(["a-1"]);
    expectOnlyOwn("bob", await bob.pull({ collections: ["bob"] }), "pull");
  });

  it("shares a shared collection, read-only for the reader", async () => {
    const reader = client("reader");
    const live = subscribe("reader", ["shared"]);
    await client("alice").push({ clientId: "alice-phone", changes: [pushed("s-alice", { from: "alice" }, next(), { collection: "shared" })] });
    await client("bob").push({ clientId: "bob-phone", changes: [pushed("s-bob", { from: "bob" }, next(), { collection: "shared" })] });
    const before = sequence();
    const { results } = await reader.push({ clientId: "reader-phone", changes: [pushed("s-reader", { from: "reader" }, 1, { collection: "shared" })] });
    expect(rejected(results[0])).toMatchObject({ code: Code.PermissionDenied, reason: "ERROR_REASON_PERMISSION_DENIED" });
    expect(sequence()).toBe(before);
    const page = await reader.pull({ collections: ["shared"] });
    expect(page.changes.map((c) => c.documentId).sort()).toEqual(["s-alice", "s-bob"]);
    await eventually(() => live.changes.length === 2, 5_000, "the reader's stream");
    for (const collections of [["alice"], ["bob"], ["owned"]]) {
      expectRefused(await failure(reader.pull({ collections })), Code.PermissionDenied, "ERROR_REASON_PERMISSION_DENIED");
    }
  });

  it.each(OWNED)("hides other owners' documents in %s: pull, subscribe, and every kind of push onto them", async (collection) => {
    const alice = client("alice");
    const bob = client("bob");
    const bobLive = subscribe("bob", [collection]);
    const mine = await alice.push({ clientId: "alice-phone", changes: [pushed(`${collection}-a`, secretOf("alice", "doc"), next(), { collection }), pushed(`${collection}-gone`, secretOf("alice", "gone"), next(), { collection })] });
    const revision = revisionOf(mine.results[0]);
    const goneRevision = revisionOf(mine.results[1]);
    await alice.push({ clientId: "alice-phone", changes: [pushed(`${collection}-gone`, null, next(), { collection, baseRevision: goneRevision })] });
    await bob.push({ clientId: "bob-phone", changes: [pushed(`${collection}-b`, secretOf("bob", "doc"), next(), { collection })] });

    // What a refused write looks like: bob writing a document he would not own.
    const refusedWrite = rejected((await bob.push({ clientId: "bob-phone", changes: [pushed(`${collection}-fresh`, { owner: "alice" }, next(), { collection })] })).results[0]);
    const before = sequence();
    const attempts = [
      pushed(`${collection}-a`, secretOf("bob", "insert"), next(), { collection }),
      pushed(`${collection}-a`, secretOf("bob", "update"), next(), { collection, baseRevision: revision }),
      pushed(`${collection}-a`, secretOf("bob", "stale"), next(), { collection, baseRevision: "1-1" }),
      pushed(`${collection}-a`, null, next(), { collection, baseRevision: revision }),
      pushed(`${collection}-gone`, secretOf("bob", "revive"), next(), { collection }),
    ];
    // One push each: a push holds at most one change per document.
    const results = await Promise.all(attempts.map(async (change) => (await bob.push({ clientId: "bob-phone", changes: [change] })).results[0]));
    results.forEach((result, i) => {
      const value = rejected(result);
      expect({ ...value, message: value.message.replace(attempts[i]!.documentId, `${collection}-fresh`) }).toEqual(refusedWrite);
      expect(json(result)).not.toMatch(/alice|"\d+-[0-9a-f]+"/);
    });
    expect(sequence()).toBe(before);

    const pulled = await bob.pull({ collections: [collection] });
    expectOnlyOwn("bob", pulled, "pull");
    expect(pulled.changes.map((c) => c.documentId)).toEqual([`${collection}-b`]);
    const alicePulled = await alice.pull({ collections: [collection] });
    expect(JSON.parse(alicePulled.changes.find((c) => c.documentId === `${collection}-a`)!.document)).toEqual(secretOf("alice", "doc"));
    await eventually(() => (bobLive.checkpoint?.collections[collection] ?? 0n) >= sequence(), 5_000, "bob's stream to pass every commit");
    expect(bobLive.changes.map((c) => c.documentId)).toEqual([`${collection}-b`]);
  });

  it("binds client ids: another principal's push under one is refused whole, the same whether or not its keys exist", async () => {
    const alice = client("alice");
    const bob = client("bob");
    const first = await alice.push({ clientId: "alice-tablet", changes: [pushed("t-1", { n: 1 }, 1, { collection: "shared" }), pushed("t-2", { n: 2 }, 2, { collection: "shared" })] });
    // Client ids are visible to readers of shared collections, by design (PROTOCOL §12.6).
    const seen = await bob.pull({ collections: ["shared"] });
    expect(seen.changes.find((c) => c.documentId === "t-1")?.clientId).toBe("alice-tablet");
    const before = sequence();
    const attempts = [
      bob.push({ clientId: "alice-tablet", changes: [pushed("junk", { junk: 1 }, 2, { collection: "shared" })] }), // alice's key, other content
      bob.push({ clientId: "alice-tablet", changes: [pushed("t-1", { n: 1 }, 1, { collection: "shared" })] }), // alice's key, same content
      bob.push({ clientId: "alice-tablet", changes: [pushed("junk", { junk: 1 }, 3, { collection: "shared" })] }), // alice's next key
      bob.push({ clientId: "alice-tablet", changes: [pushed("junk", { junk: 1 }, 1, { collection: "bob" })] }), // his own collection
      client("reader").push({ clientId: "alice-tablet", changes: [pushed("junk", { junk: 1 }, 3, { collection: "shared" })] }),
    ];
    const errors = await Promise.all(attempts.map(failure));
    for (const error of errors) {
      expectRefused(error, Code.PermissionDenied, "ERROR_REASON_PERMISSION_DENIED");
      expect(error.rawMessage).toBe(errors[0]!.rawMessage);
    }
    expect(sequence()).toBe(before);
    // Alice's device carries on: her next key is hers, her old ones replay.
    expect((await alice.push({ clientId: "alice-tablet", changes: [pushed("t-3", { n: 3 }, 3, { collection: "shared" })] })).results[0]?.outcome.case).toBe("accepted");
    const again = await alice.push({ clientId: "alice-tablet", changes: [pushed("t-1", { n: 1 }, 1, { collection: "shared" }), pushed("t-2", { n: 2 }, 2, { collection: "shared" })] });
    expect(again.results).toEqual(first.results);
  });

  it("answers crafted checkpoints without leaking: unreadable collections first, then resync", async () => {
    const bob = client("bob");
    const epoch = (await bob.pull({ collections: ["bob"] })).checkpoint!.epoch;
    const crafted = (collections: Record<string, bigint>, e = epoch) => create(CheckpointSchema, { epoch: e, serverSequence: 0n, collections });
    // Positions for a collection bob may not read are carried, never used.
    const carried = await bob.pull({ collections: ["bob"], checkpoint: crafted({ alice: 2n ** 64n - 1n, bob: 0n }) });
    expectOnlyOwn("bob", carried, "pull with a crafted checkpoint");
    expect(carried.changes.every((c) => c.collection === "bob")).toBe(true);
    // Asking for a forbidden collection is refused before any checkpoint is judged.
    for (const checkpoint of [crafted({ alice: 1n }), crafted({ alice: 2n ** 63n }), crafted({ alice: 1n }, "another-epoch")]) {
      expectRefused(await failure(bob.pull({ collections: ["alice"], checkpoint })), Code.PermissionDenied, "ERROR_REASON_PERMISSION_DENIED");
      expectRefused(await failure(firstMessage(bob.subscribe({ collections: ["alice"], checkpoint }))), Code.PermissionDenied, "ERROR_REASON_PERMISSION_DENIED");
    }
    // Absurd positions and another epoch on his own collection: resync.
    for (const checkpoint of [crafted({ bob: 2n ** 63n }), crafted({ bob: 2n ** 64n - 1n }), crafted({ bob: 1n }, "another-epoch")]) {
      const pull = await failure(bob.pull({ collections: ["bob"], checkpoint }));
      expectRefused(pull, Code.FailedPrecondition, "ERROR_REASON_RESYNC_REQUIRED");
      expect(errorInfo(pull)?.metadata).toEqual({ collections: "bob" });
      expectRefused(await failure(firstMessage(bob.subscribe({ collections: ["bob"], checkpoint }))), Code.FailedPrecondition, "ERROR_REASON_RESYNC_REQUIRED");
    }
    // A checkpoint of an owned collection from before alice's documents shows bob only his.
    const owned = await bob.pull({ collections: ["owned"], checkpoint: crafted({ owned: 0n }) });
    expectOnlyOwn("bob", owned, "pull of owned from 0");
  });

  describe("refuses bad credentials on every call, writing nothing", () => {
    const now = () => Math.floor(Date.now() / 1000);
    const aliceClaims = { sub: "alice", collections: ["alice", "shared"] };
    const good = () => signToken(SECRET, aliceClaims);
    const credentials: Array<[string, () => string]> = [
      ["no header", () => ""],
      ["a raw token without Bearer", () => "alice-token"],
      ["Bearer without a token", () => "Bearer"],
      ["another scheme", () => "Basic YWxpY2U6cHc="],
      ["an unknown token", () => "Bearer nobody-token"],
      ["a forged signature", () => `Bearer ${good().split(".").slice(0, 2).join(".")}.${"A".repeat(43)}`],
      ["claims swapped under a valid signature", () => `Bearer v1.${Buffer.from(JSON.stringify({ sub: "bob" })).toString("base64url")}.${good().split(".")[2]}`],
      ["another secret", () => `Bearer ${signToken("some-other-secret-0123456789", aliceClaims)}`],
      ["an expired token", () => `Bearer ${signToken(SECRET, { ...aliceClaims, exp: now() - 1 })}`],
      ["a padded token", () => `Bearer ${good()}=`],
      ["a token with a fourth segment", () => `Bearer ${good()}.x`],
      ["an unknown version", () => `Bearer v2${good().slice(2)}`],
      ["garbage", () => "Bearer %00<script>..."],
      ["a token in the wrong header case and spacing", () => "bearer\talice-token extra"],
    ];
    it.each(credentials)("%s", async (_what, header) => {
      const anonymous = syncClient(running.url, variant);
      const headers = header() ? { authorization: header() } : undefined;
      const before = sequence();
      const refused = [
        await failure(anonymous.push({ clientId: "alice-phone", changes: [pushed("intruder", secretOf("bob", "intruder"), next(), { collection: "shared" })] }, { headers })),
        await failure(anonymous.pull({ collections: ["shared"] }, { headers })),
        await failure(firstMessage(anonymous.subscribe({ collections: ["shared"] }, { headers }))),
      ];
      for (const error of refused) expectRefused(error, Code.Unauthenticated, "ERROR_REASON_UNAUTHENTICATED");
      expect(sequence()).toBe(before);
    });

    it("a signed token grants exactly its collections, never by substring", async () => {
      const scoped = syncClient(running.url, variant, signToken(SECRET, { sub: "carol", collections: ["shared"] }));
      expect((await scoped.pull({ collections: ["shared"] })).changes.length).toBeGreaterThan(0);
      for (const collections of [["alice"], ["owned"], ["bob"]]) {
        expectRefused(await failure(scoped.pull({ collections })), Code.PermissionDenied, "ERROR_REASON_PERMISSION_DENIED");
      }
      // Signed with the right secret (an issuer's bug), but the scope is a string.
      const payload = Buffer.from(JSON.stringify({ sub: "carol", collections: "shared" })).toString("base64url");
      const header = { authorization: `Bearer v1.${payload}.${createHmac("sha256", SECRET).update(payload).digest("base64url")}` };
      expectRefused(await failure(syncClient(running.url, variant).pull({ collections: ["a"] }, { headers: header })), Code.Unauthenticated, "ERROR_REASON_UNAUTHENTICATED");
    });
  });

  it("lets nothing of one principal reach another's streams, first to last", async () => {
    // Streams opened now catch up on everything written above; then more
    // writes arrive live.
    const bobLive = subscribe("bob", ["bob", "shared", ...OWNED]);
    const aliceLive = subscribe("alice", ["alice", "shared", ...OWNED]);
    const readerLive = subscribe("reader", ["shared"]);
    await client("alice").push({ clientId: "alice-phone", changes: OWNED.map((collection) => pushed(`late-${collection}`, secretOf("alice", "late"), next(), { collection })) });
    await client("bob").push({ clientId: "bob-phone", changes: OWNED.map((collection) => pushed(`late-b-${collection}`, secretOf("bob", "late"), next(), { collection })) });
    const passed = (s: { checkpoint?: Checkpoint }, collections: readonly string[]) => collections.every((c) => (s.checkpoint?.collections[c] ?? 0n) >= sequence());
    await eventually(() => passed(bobLive, OWNED) && passed(aliceLive, OWNED) && passed(readerLive, ["shared"]), 5_000, "every stream to pass every commit");
    expect(bobLive.changes.some((c) => c.documentId === `late-b-owned`)).toBe(true);
    expect(aliceLive.changes.some((c) => c.documentId === `late-owned`)).toBe(true);
    expect(bobLive.changes.some((c) => c.collection === "alice")).toBe(false);
    for (const s of [bobLive, aliceLive, readerLive]) expect(s.ended).toBeUndefined();
  });
});
