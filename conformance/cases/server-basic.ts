// The named checks of conformance/cases/server-basic.yaml (suite basic), beside it by name.
import { accepted, pushOne, type ServerCheck } from "../src/server-check-helpers.js";
import { check, checkEqual, insert, pullAll, Skip, update } from "../src/wire.js";

const documentVerbatim: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  // Text the server must return byte for byte: key order, spacing, escapes,
  // a number beyond 2^53, non-ASCII and astral characters.
  const documents = [
    '{"title":"Café ☕ — 買い物 🛒","big":9007199254740993,"e":1e-7,"n":null}',
    '{ "z": 1,  "a": [ {"nested": {"deep": [true, false, null]}} ], "s": "quote \\" back \\\\ nl \\n u \\u00e9" }',
    '{"empty":{},"arr":[],"neg":-0.5,"exp":6.02E23}',
  ];
  const changes = documents.map((d, i) => insert(todos, ctx.doc(`v${i}`), d, ctx.seq()));
  const res = await ctx.client().push({ clientId: ctx.clientId(), changes });
  changes.forEach((_, i) => accepted(res, i));
  const pulled = ctx.mine((await pullAll(ctx.client(), [todos])).changes);
  checkEqual(pulled.length, documents.length, "pull: number of documents");
  for (const [i, d] of documents.entries()) {
    const c = pulled.find((p) => p.documentId === ctx.doc(`v${i}`));
    check(c, `pull: document v${i} missing`);
    checkEqual(c.document, d, `pull: document v${i} text`);
  }
};

const resultsInOrder: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const changes = Array.from({ length: 8 }, (_, i) => insert(todos, ctx.doc(`o${i}`), { i }, ctx.seq()));
  const res = await ctx.client().push({ clientId: ctx.clientId(), changes });
  checkEqual(res.results.length, changes.length, "push: number of results");
  let last = 0n;
  res.results.forEach((r, i) => {
    checkEqual(r.clientSequence, changes[i]!.clientSequence, `push: result ${i} client_sequence`);
    const a = accepted(res, i);
    check(a.revision !== "", `push: result ${i}: empty revision`);
    check(a.serverSequence > last, `push: result ${i}: server sequence ${a.serverSequence} not above ${last}`);
    last = a.serverSequence;
  });
  check(res.checkpoint, "push: response without checkpoint");
  check(res.checkpoint.serverSequence >= last, `push: checkpoint.server_sequence ${res.checkpoint.serverSequence} below the last accepted sequence ${last}`);
};

const latestStateOnce: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const id = ctx.doc("x");
  let rev = accepted(await pushOne(ctx, insert(todos, id, { v: 0 }, ctx.seq()))).revision;
  for (let v = 1; v <= 3; v++) rev = accepted(await pushOne(ctx, update(todos, id, { v }, rev, ctx.seq()))).revision;
  const { changes } = await pullAll(ctx.client(), [todos]);
  const mine = ctx.mine(changes);
  checkEqual(mine.length, 1, "pull: changes for a document written 4 times");
  checkEqual(mine[0]!.document, '{"v":3}', "pull: latest document");
  checkEqual(mine[0]!.revision, rev, "pull: latest revision");
};

const revisionsChange: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const id = ctx.doc("r");
  const first = accepted(await pushOne(ctx, insert(todos, id, { v: 0 }, ctx.seq())));
  const second = accepted(await pushOne(ctx, update(todos, id, { v: 0 }, first.revision, ctx.seq())));
  check(second.revision !== first.revision, `an update must get a new revision, got ${first.revision} twice`);
  check(second.serverSequence > first.serverSequence, "an update must get a higher server sequence");
  const pulled = ctx.mine((await pullAll(ctx.client(), [todos])).changes)[0];
  check(pulled, "pull: the document is missing");
  checkEqual(pulled.revision, second.revision, "pull: revision");
  checkEqual(pulled.serverSequence, second.serverSequence, "pull: server sequence");
  checkEqual(pulled.clientId, ctx.clientId(), "pull: client_id copied from the push");
  checkEqual(pulled.clientSequence, 2n, "pull: client_sequence copied from the push");
};

const collectionFilter: ServerCheck = async (ctx) => {
  const a = ctx.collection("alpha");
  const b = ctx.collection("beta");
  if (a === b) throw new Skip("the server declares a single fixed collection");
  await ctx.client().push({ clientId: ctx.clientId(), changes: [insert(a, ctx.doc("a1"), { c: "a" }, ctx.seq()), insert(b, ctx.doc("b1"), { c: "b" }, ctx.seq())] });
  const onlyA = await pullAll(ctx.client(), [a]);
  check(onlyA.changes.every((c) => c.collection === a), `pull of ${a} returned changes of other collections`);
  checkEqual(ctx.mine(onlyA.changes).map((c) => c.documentId), [ctx.doc("a1")], "pull of one collection");
  // The positions of collections not pulled are carried over unchanged (§4.5).
  const both = await pullAll(ctx.client(), [a, b]);
  const cp = both.checkpoint;
  check(cp, "pull: no checkpoint");
  await pushOne(ctx, insert(b, ctx.doc("b2"), { c: "b" }, ctx.seq()));
  const again = await ctx.client().pull({ collections: [a], checkpoint: cp });
  checkEqual(again.checkpoint?.collections[b], cp.collections[b], `pull of ${a}: position of ${b} must be carried over`);
  const rest = await pullAll(ctx.client(), [b], again.checkpoint);
  checkEqual(ctx.mine(rest.changes).map((c) => c.documentId), [ctx.doc("b2")], `pull of ${b} from the carried position`);
};

export const checks: Record<string, ServerCheck> = {
  "document-verbatim": documentVerbatim,
  "results-in-order": resultsInOrder,
  "latest-state-once": latestStateOnce,
  "revisions-change": revisionsChange,
  "collection-filter": collectionFilter,
};
