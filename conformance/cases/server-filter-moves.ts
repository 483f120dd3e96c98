// The named checks of conformance/cases/server-filter-moves.yaml (suite
// filter-moves), beside it by name: documents moving into and out of a
// filter over time, as Pull and Subscribe deliver them (move-in, removal,
// tombstone, §4.10, §13.6), over pages and catch-ups (§4.7, §5.5), and a
// client that converges on exactly what matches (§4.11).
import { checkIncreasing, checkOncePerDocument, checkStreamResumable, Stream, type ServerCheck } from "../src/server-check-helpers.js";
import { checkExactly, checkHeld, checkPulled, checkRemoval, checkState, checkTombstone, describe, Docs, expectedHeld, filterOf, indexed, pullFiltered, Replica, text, twoCollections } from "../src/filter-check-helpers.js";
import type { Checkpoint } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { check, checkEqual } from "../src/wire.js";

const moveOutPull: ServerCheck = async (ctx) => {
  const [f] = indexed(ctx);
  const c = ctx.collection("move");
  const docs = new Docs(ctx, c);
  const filter = filterOf([f!, text("a")]);
  // A reader from before the documents existed: it could hold none of them.
  const before = (await pullFiltered(ctx, c, filter)).checkpoint;
  await docs.write({
    outMoved: { [f!]: "a", n: 0 },
    heldDeleted: { [f!]: "a", n: 0 },
    heldUpdated: { [f!]: "a", n: 0 },
    outAndBack: { [f!]: "a", n: 0 },
    neverOut: { [f!]: "b", n: 0 },
    neverIn: { [f!]: "b", n: 0 },
    neverDeleted: { [f!]: "b", n: 0 },
    lostField: { [f!]: "a", n: 0 },
    briefIn: { [f!]: "b", n: 0 },
  });
  const held = await pullFiltered(ctx, c, filter, before);
  checkPulled(ctx, held, ["outMoved", "heldDeleted", "heldUpdated", "outAndBack", "lostField"].map((n) => docs.get(n)), "the reader's first pull");
  await docs.write({ outMoved: { [f!]: "b", n: 1 }, heldDeleted: null, heldUpdated: { [f!]: "a", n: 1 }, outAndBack: { [f!]: "b", n: 1 }, neverOut: { [f!]: "c", n: 1 }, neverIn: { [f!]: "a", n: 1 }, neverDeleted: null, lostField: { n: 1 }, briefIn: { [f!]: "a", n: 1 } });
  // briefIn matched only between the reader's pulls: it could never hold it.
  await docs.write({ outAndBack: { [f!]: "a", n: 2 }, late: { [f!]: "b" }, briefIn: { [f!]: "c", n: 2 } });
  const w = (n: string) => docs.get(n);

  const next = await pullFiltered(ctx, c, filter, held.checkpoint);
  const mine = ctx.mine(next.changes);
  checkIncreasing(mine, "the reader's pull after the moves");
  checkOncePerDocument(mine, "the reader's pull after the moves");
  const of = (n: string) => mine.find((x) => x.documentId === w(n).id);
  checkRemoval(of("outMoved"), c, w("outMoved"), "a held document that stopped matching");
  checkRemoval(of("lostField"), c, w("lostField"), "a held document that lost the field");
  checkTombstone(of("heldDeleted"), w("heldDeleted"), "a held document deleted");
  checkState(of("heldUpdated"), w("heldUpdated"), "a held document updated and still matching");
  checkState(of("outAndBack"), w("outAndBack"), "a held document moved out and back");
  checkState(of("neverIn"), w("neverIn"), "a document that started matching (move-in)");
  const named = new Set(mine.map((x) => x.documentId));
  for (const n of ["neverOut", "neverDeleted", "late", "briefIn"]) check(!named.has(w(n).id), `the reader was told of ${w(n).id}, which never matched while it could hold it (§4.10: "sends nothing")`);
  checkEqual(mine.length, 6, "the reader's pull after the moves: the number of changes");

  // From before the documents existed: only what matches now.
  const fresh = await pullFiltered(ctx, c, filter, before);
  checkPulled(ctx, fresh, ["heldUpdated", "outAndBack", "neverIn"].map(w), "a reader whose checkpoint predates the documents (no removal, no tombstone: it could hold none)");
  const empty = await pullFiltered(ctx, c, filter);
  checkPulled(ctx, empty, ["heldUpdated", "outAndBack", "neverIn"].map(w), "a reader from the empty checkpoint");
};

const moveOutSubscribe: ServerCheck = async (ctx) => {
  const [f] = indexed(ctx);
  const c = ctx.collection("live");
  const docs = new Docs(ctx, c);
  const filter = filterOf([f!, text("a")]);
  await docs.write({ d1: { [f!]: "a" }, d2: { [f!]: "a" }, d3: { [f!]: "b" }, d4: { [f!]: "b" } });
  const stream = new Stream(ctx.client(), [c], { signal: ctx.signal, filters: { [c]: filter }, heartbeatIntervalMs: 1000 });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp());
    const caughtUp = stream.changes().length;
    checkExactly(ctx.mine(stream.changes()), [docs.get("d1"), docs.get("d2")], "the stream's catch-up");
    const live = () => ctx.mine(stream.changes().slice(caughtUp));
    const arrived = async (n: number, what: string) => stream.waitFor(what, () => live().length >= n);
    const [out1] = await docs.write({ d1: { [f!]: "b" } });
    await arrived(1, "the removal of d1");
    await docs.write({ d3: { [f!]: "c" } });
    const [in4] = await docs.write({ d4: { [f!]: "a" } });
    await arrived(2, "d4 moved in");
    const [del2] = await docs.write({ d2: null });
    await arrived(3, "the tombstone of d2");
    await docs.write({ d1: { [f!]: "c" } });
    const [back1] = await docs.write({ d1: { [f!]: "a", back: true } });
    await arrived(4, "d1 moved in again");
    const [out1again] = await docs.write({ d1: { [f!]: "b" } });
    await arrived(5, "the second removal of d1");
    await docs.write({ d5: { [f!]: "b" } });
    await docs.write({ d5: null });
    const [end] = await docs.write({ end: { [f!]: "a" } });
    await arrived(6, "the last document");
    const got = live();
    checkEqual(got.map((x) => x.documentId), [out1!, in4!, del2!, back1!, out1again!, end!].map((w) => w.id), "what the stream delivered live (nothing for d3 and d5, which it never sent)");
    checkRemoval(got[0], c, out1!, "live: d1 moved out");
    checkState(got[1], in4!, "live: d4 moved in");
    checkTombstone(got[2], del2!, "live: d2, held, deleted");
    checkState(got[3], back1!, "live: d1 moved in again");
    checkRemoval(got[4], c, out1again!, "live: d1 moved out again");
    checkState(got[5], end!, "live: a new matching document");
    checkStreamResumable(stream, "a filtered stream");
    for (const { index, checkpoint } of stream.checkpoints()) check(checkpoint?.filters[c], `stream message ${index}: its checkpoint carries no filters["${c}"] (§4.10: every checkpoint)`);
  } finally {
    await stream.close();
  }
};

const chain: ServerCheck = async (ctx) => {
  const [f] = indexed(ctx);
  const c = ctx.collection("chain");
  const docs = new Docs(ctx, c);
  const listA = filterOf([f!, text("a")]);
  await docs.write({ d: { [f!]: "a" } });
  const k = (await pullFiltered(ctx, c, listA)).checkpoint;
  const kB = (await pullFiltered(ctx, c, filterOf([f!, text("b")]))).checkpoint;
  await docs.write({ d: { [f!]: "b" } });
  const [last] = await docs.write({ d: { [f!]: "c" } });
  const pulled = ctx.mine((await pullFiltered(ctx, c, listA, k)).changes);
  checkEqual(pulled.length, 1, `a list-a reader after a -> b -> c: changes (${pulled.map(describe).join(", ")})`);
  checkRemoval(pulled[0], c, last!, "a list-a reader after a -> b -> c");
  const stream = new Stream(ctx.client(), [c], { signal: ctx.signal, filters: { [c]: listA }, checkpoint: k });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp());
    const caught = ctx.mine(stream.changes());
    checkEqual(caught.length, 1, "a list-a stream's catch-up after a -> b -> c: changes");
    checkRemoval(caught[0], c, last!, "a list-a stream's catch-up after a -> b -> c");
  } finally {
    await stream.close();
  }
  const readerB = ctx.mine((await pullFiltered(ctx, c, filterOf([f!, text("b")]), kB)).changes);
  checkEqual(readerB.map(describe), [], "a list-b reader from before the moves (it never held the document; §4.10: sends nothing)");
  checkPulled(ctx, await pullFiltered(ctx, c, filterOf([f!, text("c")])), [last!], "a list-c reader");
};

const paging: ServerCheck = async (ctx) => {
  const [f] = indexed(ctx);
  const c = ctx.collection("paging");
  const docs = new Docs(ctx, c);
  const n = 160;
  const entries: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) entries[`d${i}`] = { [f!]: i % 5 === 2 ? "a" : `v${i % 5}`, i };
  await docs.write(entries);
  // Every other matching document changes again, still matching, and some move in: several index entries each (§4.11).
  const again: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    if (i % 10 === 2) again[`d${i}`] = { [f!]: "a", i, again: true };
    else if (i % 10 === 3) again[`d${i}`] = { [f!]: "a", i, movedIn: true };
  }
  await docs.write(again);
  const matching = [...docs.written.values()].filter((w) => (JSON.parse(w.document!) as Record<string, unknown>)[f!] === "a");
  const filter = filterOf([f!, text("a")]);
  const limit = 4;
  const replica = new Replica();
  let checkpoint: Checkpoint | undefined;
  let pages = 0;
  for (;;) {
    const page = await ctx.client().pull({ collections: [c], checkpoint, limit, filters: { [c]: filter } }, { signal: ctx.signal });
    pages++;
    check(page.changes.length <= limit, `page ${pages}: ${page.changes.length} changes, above the limit of ${limit} (§4.7)`);
    checkIncreasing(page.changes, `page ${pages}`);
    checkOncePerDocument(page.changes, `page ${pages}`);
    for (const x of page.changes) {
      const v = x.deleted ? undefined : (JSON.parse(x.document) as Record<string, unknown>)[f!];
      check(v === "a", `page ${pages}: ${describe(x)} does not match ${f} = "a"`);
    }
    replica.apply(page.changes, `page ${pages}`);
    checkpoint = page.checkpoint;
    check(checkpoint?.filters[c], `page ${pages}: the checkpoint carries no filters["${c}"]`);
    if (!page.hasMore) break;
    check(page.changes.length > 0, `page ${pages}: has_more with an empty page`);
    check(pages < 200, `more than 200 pages of ${limit} for ${matching.length} matching documents`);
  }
  check(pages >= Math.ceil(matching.length / limit), `${matching.length} matching documents with limit ${limit} came in ${pages} pages`);
  checkHeld(replica, expectedHeld(docs, f!, ["a"]), "after paging");
  check([...replica.everNamed].every((id) => matching.some((w) => w.id === id)), "the pages named a document that does not match");
};

const subscribeCatchUp: ServerCheck = async (ctx) => {
  const [f] = indexed(ctx);
  const c = ctx.collection("catchup");
  const docs = new Docs(ctx, c);
  // n documents, then, alternately, a new one and a change of the i-th:
  // a catch-up read in pages of fewer than 3n index entries meets, in a
  // later page, a new document below a state an earlier page sent.
  const n = 200;
  const first: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) first[`d${i}`] = { [f!]: "a", i };
  await docs.write(first);
  for (let start = 0; start < n; start += 100) {
    const batch: Record<string, unknown> = {};
    for (let i = start; i < start + 100; i++) {
      batch[`new${i}`] = { [f!]: i % 4 === 0 ? "b" : "a", i };
      batch[`d${i}`] = { [f!]: i % 7 === 0 ? "b" : "a", i, again: true };
    }
    await docs.write(batch);
  }
  const stream = new Stream(ctx.client(), [c], { signal: ctx.signal, filters: { [c]: filterOf([f!, text("a")]) } });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp(), 30_000);
    const got = ctx.mine(stream.changes());
    const states = new Set<string>();
    const sent = new Set<string>();
    for (const x of got) {
      const key = `${x.documentId}@${x.serverSequence}`;
      check(!states.has(key), `${x.documentId} was delivered twice at ${x.serverSequence} in one stream's catch-up (§4.10, §5.5: at most once per stream in a given state)`);
      states.add(key);
      check(!x.deleted || sent.has(x.documentId), `a catch-up from the empty checkpoint sent ${describe(x)}, a document the stream never sent: the client could not hold it (§13.6: within one stream, S is the state last sent; §4.10: "sends nothing")`);
      sent.add(x.documentId);
    }
    const replica = new Replica();
    replica.apply(got, "the catch-up");
    checkHeld(replica, expectedHeld(docs, f!, ["a"]), "after a filtered stream's catch-up");
    checkIncreasing(got, "a filtered stream's catch-up, across its batches (§5.5)");
  } finally {
    await stream.close();
  }
};

const catchUpBesideWhole: ServerCheck = async (ctx) => {
  const [f] = indexed(ctx);
  const [c, whole] = twoCollections(ctx, "beside_f", "beside_w");
  const docs = new Docs(ctx, c);
  const wholeDocs = new Docs(ctx, whole, "whole");
  // Pushes of one collection after the other, so their sequences interleave
  // in runs; more changes (and matching index entries) than a catch-up page
  // of most servers (the reference server's is 500).
  for (let round = 0; round < 3; round++) {
    const filtered: Record<string, unknown> = {};
    const plain: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      filtered[`f${round}-${i}`] = { [f!]: i % 10 === 0 ? "b" : "a", round };
      plain[`w${round}-${i}`] = { round, i };
    }
    await docs.write(filtered);
    await wholeDocs.write(plain);
  }
  const stream = new Stream(ctx.client(), [c, whole], { signal: ctx.signal, filters: { [c]: filterOf([f!, text("a")]) } });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp(), 30_000);
    const [last] = await wholeDocs.write({ last: { done: true } });
    await stream.waitFor("a live change", () => stream.changes().some((x) => x.documentId === last!.id));
    const got = ctx.mine(stream.changes());
    const replica = new Replica();
    replica.apply(got.filter((x) => x.collection === c), "the stream");
    checkHeld(replica, expectedHeld(docs, f!, ["a"]), "the filtered collection, after the catch-up");
    checkEqual(new Set(got.filter((x) => x.collection === whole).map((x) => x.documentId)).size, wholeDocs.written.size, "documents of the whole collection delivered");
    checkIncreasing(got, "a stream of a filtered and a whole collection, across its batches (§5.5)");
    checkStreamResumable(stream, "the whole collection of a stream beside a filtered one", (x) => x.collection === whole);
  } finally {
    await stream.close();
  }
};

const converges: ServerCheck = async (ctx) => {
  const [f] = indexed(ctx);
  const c = ctx.collection("converge");
  const docs = new Docs(ctx, c);
  const values = ["a", "b", "c"];
  const n = 60;
  const initial: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) initial[`d${i}`] = { [f!]: values[i % 3], i, round: 0 };
  for (let i = 0; i < 10; i++) initial[`never${i}`] = { [f!]: "z", i };
  await docs.write(initial);
  const filter = filterOf([f!, text("a"), text("c")]);
  const wanted = ["a", "c"];
  // The pulling reader starts with what matches now.
  const pulling = new Replica();
  let checkpoint: Checkpoint | undefined;
  const first = await pullFiltered(ctx, c, filter, undefined, 7);
  pulling.apply(first.changes, "the first pull");
  checkpoint = first.checkpoint;
  checkHeld(pulling, expectedHeld(docs, f!, wanted), "the first pull");
  const stream = new Stream(ctx.client(), [c], { signal: ctx.signal, filters: { [c]: filter }, checkpoint });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp());
    // Rounds of moves, updates and deletes, each followed by one page of the pulling reader.
    let round = 0;
    let deleted = 0;
    for (; round < 12; round++) {
      const batch: Record<string, unknown> = {};
      for (let k = 0; k < 6; k++) {
        const i = (round * 7 + k * 11) % n;
        const name = `d${i}`;
        if (docs.written.get(name)?.document === undefined || name in batch) continue;
        if ((round + k) % 9 === 4 && deleted < 8) {
          batch[name] = null;
          deleted++;
        } else batch[name] = { [f!]: values[(i + round + k) % 3], i, round };
      }
      batch[`never${round % 10}`] = { [f!]: "z", round };
      await docs.write(batch);
      const page = await ctx.client().pull({ collections: [c], checkpoint, limit: 3, filters: { [c]: filter } }, { signal: ctx.signal });
      checkIncreasing(page.changes, `round ${round}: a page`);
      checkOncePerDocument(page.changes, `round ${round}: a page`);
      pulling.apply(page.changes, `round ${round}`);
      checkpoint = page.checkpoint;
    }
    // The pulling reader finishes paging.
    const rest = await pullFiltered(ctx, c, filter, checkpoint, 3);
    pulling.apply(rest.changes, "the last pages");
    const expected = expectedHeld(docs, f!, wanted);
    checkHeld(pulling, expected, "a client pulling page by page while documents move");
    const streaming = new Replica();
    const sameAsExpected = () => {
      streaming.held.clear();
      streaming.apply(ctx.mine(first.changes), "the first pull");
      streaming.apply(ctx.mine(stream.changes()), "the stream");
      const live = streaming.live();
      return live.size === expected.size && [...expected].every(([id, rev]) => live.get(id) === rev);
    };
    try {
      await stream.waitFor("the stream's client holding exactly the matching documents", sameAsExpected, 15_000);
    } catch (error) {
      checkHeld(streaming, expected, "a client of a filtered stream while documents move");
      throw error;
    }
    checkStreamResumable(stream, "a filtered stream while documents move");
    for (const replica of [pulling, streaming]) {
      for (let i = 0; i < 10; i++) check(!replica.everNamed.has(docs.id(`never${i}`)), `${docs.id(`never${i}`)} never matched, yet a reader was told of it`);
    }
  } finally {
    await stream.close();
  }
};

export const checks: Record<string, ServerCheck> = {
  "move-out-pull": moveOutPull,
  "move-out-subscribe": moveOutSubscribe,
  chain,
  paging,
  "subscribe-catch-up": subscribeCatchUp,
  "catch-up-beside-whole": catchUpBesideWhole,
  converges,
};
