// The named checks of conformance/cases/server-pagination.yaml (suite pagination), beside it by name.
import type { ChangeEvent } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { accepted, checkIncreasing, checkOncePerDocument, insertMany, pushOne, type ServerCheck } from "../src/server-check-helpers.js";
import { Skip, check, checkEqual, insert, pullAll } from "../src/wire.js";

const paginationLimit: ServerCheck = async (ctx, params) => {
  const n = Number(params.documents ?? 25);
  const limit = Number(params.limit ?? 10);
  const todos = ctx.collection("paged");
  const start = await ctx.head([todos]);
  const written = await insertMany(ctx, todos, n);
  let checkpoint = start;
  const seen: ChangeEvent[] = [];
  for (let page = 0; ; page++) {
    check(page < n + 5, "pagination does not terminate");
    const res = await ctx.client().pull({ collections: [todos], checkpoint, limit });
    check(res.changes.length <= limit, `page ${page}: ${res.changes.length} changes, above limit ${limit}`);
    checkIncreasing(res.changes, `page ${page}`);
    check(res.checkpoint, `page ${page}: no checkpoint`);
    const position = res.checkpoint.collections[todos] ?? 0n;
    if (res.hasMore) {
      check(res.changes.length > 0, `page ${page}: has_more with an empty page`);
      checkEqual(position, res.changes.at(-1)!.serverSequence, `page ${page}: with has_more the position is the last returned sequence (§4.5)`);
    } else if (res.changes.length) {
      check(position >= res.changes.at(-1)!.serverSequence, `page ${page}: the position is below the last returned change`);
    }
    seen.push(...res.changes);
    checkpoint = res.checkpoint;
    if (!res.hasMore) break;
  }
  const mine = ctx.mine(seen);
  checkIncreasing(seen, "all pages");
  checkEqual(mine.length, n, "documents over all pages");
  checkEqual(new Set(mine.map((c) => c.documentId)).size, n, "distinct documents over all pages");
  checkEqual(mine.map((c) => c.serverSequence), written.map((w) => w.serverSequence), "pages return the accepted sequences in order");
};

const paginationServerDefault: ServerCheck = async (ctx, params) => {
  const n = Number(params.documents ?? 1200);
  const todos = ctx.collection("big");
  await insertMany(ctx, todos, n);
  const { pages, changes } = await pullAll(ctx.client(), [todos], undefined, 0);
  for (const [i, p] of pages.entries()) {
    check(p.changes.length <= 1000, `page ${i}: ${p.changes.length} changes with limit 0`);
    checkIncreasing(p.changes, `page ${i}`);
  }
  checkEqual(new Set(ctx.mine(changes).map((c) => c.documentId)).size, n, "documents over all pages with limit 0");
};

const emptyPull: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  await pushOne(ctx, insert(todos, ctx.doc("e"), { e: 1 }, ctx.seq()));
  const head = await ctx.head([todos]);
  const res = await ctx.client().pull({ collections: [todos], checkpoint: head });
  checkEqual(res.changes.length, 0, "pull from the head: changes");
  checkEqual(res.hasMore, false, "pull from the head: has_more");
  // The position moves to the high-water mark h read by this pull (§4.5), which
  // other clients' commits (to any collection) may have raised since the head
  // was read: it never goes back, and it never passes the checkpoint's own
  // high-water mark.
  const before = head?.collections[todos] ?? 0n;
  const position = res.checkpoint?.collections[todos] ?? 0n;
  check(position >= before, `pull from the head: position went back from ${before} to ${position}`);
  const hwm = res.checkpoint?.serverSequence ?? 0n;
  if (hwm > 0n) check(position <= hwm, `pull from the head: position ${position} above the checkpoint's server_sequence ${hwm}`);
};

/**
 * Documents spread over several collections, interleaved in one push so
 * their sequences alternate (or unevenly), pulled together page by page:
 * each page is a merge of the collections cut at `limit`, so a server that
 * keeps the whole merge (limit + 1 changes) or sets a collection's position
 * to the last change it read from that collection (past changes the cut left
 * out) fails here.
 */
const paginationAcrossCollections: ServerCheck = async (ctx, params) => {
  const limit = Number(params.limit ?? 7);
  const counts = (params.counts as number[] | undefined) ?? [14, 14, 14];
  const collections = counts.map((_, i) => ctx.collection(`across${i}`));
  if (new Set(collections).size < collections.length) throw new Skip("the server declares too few fixed collections");
  // A collection not pulled: its position must be carried over unchanged (§4.5).
  const aside = ctx.collection("aside");
  accepted(await pushOne(ctx, insert(aside, ctx.doc("aside"), {}, ctx.seq())));
  const start = (await pullAll(ctx.client(), [...collections, aside])).checkpoint;
  check(start, "pull: no checkpoint");
  const asidePosition = start.collections[aside];
  // Round robin over the collections that still need documents: sequences interleave.
  const remaining = [...counts];
  const changes: ChangeEvent[] = [];
  for (let k = 0; remaining.some((n) => n > 0); k++) {
    const i = k % counts.length;
    if (remaining[i]! === 0) continue;
    remaining[i]!--;
    changes.push(insert(collections[i]!, ctx.doc(`x${changes.length}`), { i: changes.length }, ctx.seq()));
  }
  const res = await ctx.client().push({ clientId: ctx.clientId(), changes });
  const written = changes.map((c, i) => ({ id: c.documentId, collection: c.collection, ...accepted(res, i) }));
  let checkpoint: typeof start | undefined = start;
  const seen: ChangeEvent[] = [];
  for (let page = 0; ; page++) {
    check(page <= written.length + 2, "pagination does not terminate");
    const res = await ctx.client().pull({ collections, checkpoint, limit });
    check(res.changes.length <= limit, `page ${page}: ${res.changes.length} changes from ${collections.length} collections, above limit ${limit} (§4.7)`);
    checkIncreasing(res.changes, `page ${page}`);
    checkOncePerDocument(res.changes, `page ${page}`);
    for (const c of res.changes) check(collections.includes(c.collection), `page ${page}: a change of ${c.collection}, which was not pulled`);
    const cp = res.checkpoint;
    check(cp, `page ${page}: no checkpoint`);
    checkEqual(cp.collections[aside], asidePosition, `page ${page}: the position of ${aside}, not pulled, is carried over unchanged (§4.5)`);
    for (const collection of collections) {
      const position = cp.collections[collection] ?? 0n;
      if (res.hasMore) {
        check(res.changes.length > 0, `page ${page}: has_more with an empty page`);
        checkEqual(position, res.changes.at(-1)!.serverSequence, `page ${page}: with has_more, the position of every pulled collection (here ${collection}) is the sequence of the last returned change, whichever collection it is in (§4.5)`);
      } else {
        checkEqual(position, cp.serverSequence, `page ${page}: without has_more, the position of ${collection} is the high-water mark (§4.5)`);
      }
    }
    seen.push(...res.changes);
    checkpoint = cp;
    if (!res.hasMore) break;
  }
  checkIncreasing(seen, "all pages");
  checkEqual(
    ctx.mine(seen).map((c) => `${c.collection}/${c.documentId}@${c.serverSequence}`),
    written.map((w) => `${w.collection}/${w.id}@${w.serverSequence}`),
    "every document of every collection exactly once, in sequence order, over all pages (§4.5, §4.7)",
  );
  const after = await ctx.client().pull({ collections, checkpoint, limit });
  checkEqual(ctx.mine(after.changes).length, 0, "a pull from the last page's checkpoint returns nothing more");
};

export const checks: Record<string, ServerCheck> = {
  "pagination-limit": paginationLimit,
  "pagination-server-default": paginationServerDefault,
  "empty-pull": emptyPull,
  "pagination-across-collections": paginationAcrossCollections,
};
