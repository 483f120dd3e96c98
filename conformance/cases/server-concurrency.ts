// The named checks of conformance/cases/server-concurrency.yaml (suite concurrency), beside it by name.
import { create } from "@bufbuild/protobuf";
import { type ChangeEvent, ChangeEventSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { checkIncreasing, checkOncePerDocument, inBackground, type ServerCheck, Stream } from "../src/server-check-helpers.js";
import { check, checkEqual, CheckFailure, insert, latestByDocument, pullAll, sleep, update } from "../src/wire.js";

const concurrentWriters: ServerCheck = async (ctx, params) => {
  const writers = Number(params.writers ?? 4);
  const rounds = Number(params.rounds ?? 25);
  const shared = Number(params.sharedDocuments ?? 5);
  const todos = ctx.collection("busy");
  const start = await ctx.head([todos]);
  // A paging reader with a small limit and a subscriber run while writers push.
  const stream = new Stream(ctx.client(), [todos], { signal: ctx.signal, checkpoint: start });
  const readerState = new Map<string, ChangeEvent>();
  let writing = true;
  let readerCheckpoint = start;
  const reader = inBackground(async () => {
    while (writing) {
      const page = await ctx.client().pull({ collections: [todos], checkpoint: readerCheckpoint, limit: 7 });
      checkIncreasing(page.changes, "concurrent pull page");
      checkOncePerDocument(page.changes, "concurrent pull page");
      for (const c of page.changes) readerState.set(c.documentId, c);
      readerCheckpoint = page.checkpoint;
      if (!page.hasMore) await sleep(5);
    }
  });
  const accepted: ChangeEvent[] = [];
  try {
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const clientId = ctx.clientId(`w${w}`);
        let sequence = 0n;
        const revisions = new Map<string, string>();
        for (let r = 0; r < rounds; r++) {
          // An own document, and a shared one (which may conflict: then re-read and retry).
          const ownId = ctx.doc(`w${w}-r${r}`);
          const sharedId = ctx.doc(`shared${(r + w) % shared}`);
          const changes = [
            insert(todos, ownId, { w, r }, ++sequence),
            revisions.has(sharedId)
              ? update(todos, sharedId, { w, r }, revisions.get(sharedId)!, ++sequence)
              : insert(todos, sharedId, { w, r }, ++sequence),
          ];
          const res = await ctx.client().push({ clientId, changes });
          res.results.forEach((result, i) => {
            const change = changes[i]!;
            if (result.outcome.case === "accepted") {
              revisions.set(change.documentId, result.outcome.value.revision);
              accepted.push(create(ChangeEventSchema, { ...change, revision: result.outcome.value.revision, serverSequence: result.outcome.value.serverSequence }));
            } else if (result.outcome.case === "conflict" && result.outcome.value.current) {
              revisions.set(change.documentId, result.outcome.value.current.revision);
            } else if (result.outcome.case !== "conflict") {
              throw new CheckFailure(`writer ${w}: unexpected ${result.outcome.case} for ${change.documentId}`);
            }
          });
        }
      }),
    );
  } finally {
    writing = false; // a failed writer must not leave the reader running
  }
  await reader;
  // Catch the reader and the stream up to the end.
  const rest = await pullAll(ctx.client(), [todos], readerCheckpoint, 7);
  for (const c of rest.changes) readerState.set(c.documentId, c);
  const truth = latestByDocument(ctx.mine((await pullAll(ctx.client(), [todos], start)).changes));
  try {
    // Every accepted sequence is unique.
    const sequences = accepted.map((a) => a.serverSequence);
    checkEqual(new Set(sequences).size, sequences.length, "distinct server sequences for accepted changes (§4.1)");
    // The final state is the last accepted write of each document.
    const lastAccepted = new Map<string, ChangeEvent>();
    for (const a of [...accepted].sort((x, y) => (x.serverSequence < y.serverSequence ? -1 : 1))) lastAccepted.set(a.documentId, a);
    checkEqual(truth.size, lastAccepted.size, "documents in a full pull");
    for (const [id, a] of lastAccepted) {
      const t = truth.get(`${todos}/${id}`);
      check(t, `${id} missing from a full pull`);
      checkEqual(t.revision, a.revision, `${id}: revision in a full pull is the last accepted`);
    }
    // The paging reader missed nothing.
    for (const [id, a] of lastAccepted) {
      const seen = readerState.get(id);
      check(seen, `the concurrent paging reader missed ${id} entirely (§4.6)`);
      checkEqual(seen.revision, a.revision, `the concurrent paging reader's latest ${id} (§4.6)`);
    }
    // The stream missed nothing and doubled nothing.
    await stream.waitFor("the stream delivers every change", () => {
      const latest = latestByDocument(ctx.mine(stream.changes()));
      return [...lastAccepted].every(([id, a]) => latest.get(`${todos}/${id}`)?.revision === a.revision);
    });
    const streamed = stream.changes();
    checkIncreasing(streamed, "stream");
    const keys = streamed.map((c) => `${c.documentId}@${c.revision}`);
    checkEqual(new Set(keys).size, keys.length, "no change delivered twice on one stream (§5.5)");
  } finally {
    await stream.close();
  }
};

/**
 * A black-box probe of §4.2: several writers insert documents concurrently
 * (each written once, so once readable it stays readable) while two readers
 * pull: one the whole collection again and again, one page by page from its
 * checkpoint. A pull that reaches high-water mark h (its position without
 * has_more) must already see every change at or below h: a change committed
 * below a position a reader was given, but visible only later, is missed by
 * every client resuming from that position.
 */
const visibilityOrder: ServerCheck = async (ctx, params) => {
  const writers = Number(params.writers ?? 6);
  const inserts = Number(params.inserts ?? 40);
  const todos = ctx.collection("visible");
  const start = await ctx.head([todos]);
  const accepted = new Map<bigint, string>();
  const full: { position: bigint; seen: Set<bigint> }[] = [];
  const paged: { page: number; position: bigint; seen: Set<bigint> }[] = [];
  let writing = true;
  const fullReader = inBackground(async () => {
    while (writing) {
      const res = await ctx.client().pull({ collections: [todos], checkpoint: start, limit: 1000 }, { signal: ctx.signal });
      check(!res.hasMore, "a full pull of fewer than 1000 documents has has_more");
      full.push({ position: res.checkpoint?.collections[todos] ?? 0n, seen: new Set(res.changes.map((c) => c.serverSequence)) });
    }
  });
  const pagedReader = inBackground(async () => {
    let checkpoint = start;
    const seen = new Set<bigint>();
    for (let page = 0; writing; page++) {
      const res = await ctx.client().pull({ collections: [todos], checkpoint, limit: 5 }, { signal: ctx.signal });
      for (const c of res.changes) seen.add(c.serverSequence);
      checkpoint = res.checkpoint;
      paged.push({ page, position: checkpoint?.collections[todos] ?? 0n, seen: new Set(seen) });
    }
  });
  try {
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const clientId = ctx.clientId(`w${w}`);
        for (let i = 0; i < inserts; i++) {
          const change = insert(todos, ctx.doc(`w${w}-${i}`), { w, i }, BigInt(i + 1));
          const res = await ctx.client().push({ clientId, changes: [change] }, { signal: ctx.signal });
          const r = res.results[0];
          if (r?.outcome.case !== "accepted") throw new CheckFailure(`writer ${w}: ${change.documentId} was ${r?.outcome.case}`);
          accepted.set(r.outcome.value.serverSequence, change.documentId);
        }
      }),
    );
  } finally {
    writing = false;
    await Promise.allSettled([fullReader, pagedReader]);
  }
  await fullReader;
  await pagedReader;
  check(full.length >= 3 && paged.length >= 3, `the readers pulled too rarely to probe anything (${full.length} full, ${paged.length} paged)`);
  const missing = (position: bigint, seen: Set<bigint>) => [...accepted].filter(([s]) => s <= position && !seen.has(s));
  for (const [i, snapshot] of full.entries()) {
    const gone = missing(snapshot.position, snapshot.seen);
    check(
      gone.length === 0,
      `full pull ${i} reached position ${snapshot.position} but did not see ${gone.map(([s, id]) => `${id}@${s}`).slice(0, 3).join(", ")}: a change became visible after a higher one (§4.2)`,
    );
  }
  for (const p of paged) {
    const gone = missing(p.position, p.seen);
    check(
      gone.length === 0,
      `the paging reader's position reached ${p.position} after page ${p.page}, but it never received ${gone.map(([s, id]) => `${id}@${s}`).slice(0, 3).join(", ")}: a client resuming from there misses them (§4.2, §4.6)`,
    );
  }
  const all = ctx.mine((await pullAll(ctx.client(), [todos], start)).changes);
  checkEqual(all.length, writers * inserts, "every insert readable at the end");
};

export const checks: Record<string, ServerCheck> = {
  "visibility-order": visibilityOrder,
  "concurrent-writers": concurrentWriters,
};
