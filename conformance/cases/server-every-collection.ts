// The named checks of conformance/cases/server-every-collection.yaml (suite
// every-collection), beside it by name: a pull or subscribe that names no
// collection reads every collection the principal may read, including
// collections created after its checkpoint (PROTOCOL §4.8).
import { insertMany, Stream, type ServerCheck } from "../src/server-check-helpers.js";
import type { ServerContext } from "../src/server-context.js";
import { check, checkEqual, pullAll, pullResyncing, Skip } from "../src/wire.js";

/** Collections of this case that no other case writes: the check needs to create them. */
function freshCollections(ctx: ServerContext, ...names: string[]): string[] {
  if (!ctx.features.openCollections) throw new Skip("the server declares fixed collections; the check creates new ones");
  return names.map((n) => ctx.collection(n));
}

/**
 * Reads naming no collection from the beginning page through everything
 * every run has written to the server, in pages of 1000, and, as a client
 * does (§8.4), read again from its beginning a collection a purge above
 * where they began refused (§8.3): other cases delete and update
 * meanwhile, and the suite's purge retention is seconds.
 */
const PAGE = 1000;

const everyCollectionPull: ServerCheck = async (ctx) => {
  const [a, b, later] = freshCollections(ctx, "every_a", "every_b", "every_later");
  const [a1] = await insertMany(ctx, a!, 1, "a");
  const [b1] = await insertMany(ctx, b!, 1, "b");
  const first = await pullResyncing(ctx.client(), [], undefined, PAGE);
  checkEqual(ctx.mine(first.changes).map((c) => c.documentId), [a1!.id, b1!.id], "a pull naming no collection returns every collection, in sequence order");
  check(first.checkpoint, "the pull returned no checkpoint");
  for (const [collection, seq] of [[a!, a1!.serverSequence], [b!, b1!.serverSequence]] as const) {
    check((first.checkpoint.collections[collection] ?? 0n) >= seq, `the checkpoint's position for ${collection} must cover its change`);
  }
  // A collection created after the checkpoint starts from the beginning.
  const [l1] = await insertMany(ctx, later!, 1, "l");
  const [a2] = await insertMany(ctx, a!, 1, "a2-");
  const next = await pullAll(ctx.client(), [], first.checkpoint, PAGE);
  checkEqual(ctx.mine(next.changes).map((c) => c.documentId), [l1!.id, a2!.id], "resuming returns the new collection from its beginning and only what is new elsewhere");
  const again = await pullAll(ctx.client(), [], next.checkpoint, PAGE);
  checkEqual(ctx.mine(again.changes).length, 0, "changes after resuming from the last checkpoint");
};

const everyCollectionSubscribe: ServerCheck = async (ctx) => {
  const [a, later] = freshCollections(ctx, "every_live", "every_live_later");
  // From where every collection is now (the catch-up of a stream from the beginning would page through all the server holds).
  const head = (await pullResyncing(ctx.client(), [], undefined, PAGE)).checkpoint;
  const [a1] = await insertMany(ctx, a!, 1, "a");
  const stream = new Stream(ctx.client(), [], { signal: ctx.signal, heartbeatIntervalMs: 1000, checkpoint: head });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp());
    check(ctx.mine(stream.changes()).some((c) => c.documentId === a1!.id), "the catch-up of a stream naming no collection holds every collection");
    const [l1] = await insertMany(ctx, later!, 1, "l");
    await stream.waitFor("the change to a collection created while the stream is open", () => ctx.mine(stream.changes()).some((c) => c.documentId === l1!.id));
    const checkpoint = stream.lastCheckpoint();
    check((checkpoint?.collections[later!] ?? 0n) >= l1!.serverSequence, "the stream's checkpoint must cover the new collection's change");
    const after = await pullAll(ctx.client(), [], checkpoint, PAGE);
    check(!ctx.mine(after.changes).some((c) => c.documentId === l1!.id || c.documentId === a1!.id), "a pull from the stream's checkpoint repeats what the stream delivered");
  } finally {
    await stream.close();
  }
};

const everyCollectionUnreadable: ServerCheck = async (ctx) => {
  ctx.require("token2-read");
  const forbidden = ctx.features.auth.token2CannotRead[0]!;
  await insertMany(ctx, forbidden, 1, "hidden");
  const restricted = ctx.client({ token: "token2" });
  const pulled = await pullAll(restricted, [], undefined, PAGE);
  check(!pulled.changes.some((c) => c.collection === forbidden), `a pull naming no collection returned changes of ${forbidden}, which the principal may not read (§13.3)`);
  check(pulled.checkpoint?.collections[forbidden] === undefined, `the checkpoint holds a position for ${forbidden}, which the principal may not read`);
  const stream = new Stream(restricted, [], { signal: ctx.signal });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp());
    check(stream.error === undefined, "a stream naming no collection must not fail for a collection the principal may not read");
    await insertMany(ctx, forbidden, 1, "hidden-live");
    const allowed = ctx.features.auth.token2Allowed;
    if (allowed) {
      const [visible] = await insertMany(ctx, allowed, 1, "visible");
      await stream.waitFor("the change to the readable collection", () => ctx.mine(stream.changes()).some((c) => c.documentId === visible!.id));
    }
    check(!stream.changes().some((c) => c.collection === forbidden), `a stream naming no collection delivered changes of ${forbidden}`);
  } finally {
    await stream.close();
  }
};

export const checks: Record<string, ServerCheck> = {
  "every-collection-pull": everyCollectionPull,
  "every-collection-subscribe": everyCollectionSubscribe,
  "every-collection-unreadable": everyCollectionUnreadable,
};
