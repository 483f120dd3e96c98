// The named checks of conformance/cases/server-pagination.yaml (suite pagination), beside it by name.
import type { ChangeEvent } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { checkIncreasing, insertMany, pushOne, type ServerCheck } from "../src/server-check-helpers.js";
import { check, checkEqual, insert, pullAll } from "../src/wire.js";

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

export const checks: Record<string, ServerCheck> = {
  "pagination-limit": paginationLimit,
  "pagination-server-default": paginationServerDefault,
  "empty-pull": emptyPull,
};
