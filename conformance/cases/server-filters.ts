// The named checks of conformance/cases/server-filters.yaml (suite filters),
// beside it by name: pulls and streams narrowed per collection by a filter,
// with move-in, move-out and tombstones under it, its digest in the
// checkpoint, and the errors of a bad or unindexed filter (PROTOCOL §4.10–4.12).
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { CheckpointSchema, FilterSchema, Operation, type ChangeEvent, type Checkpoint, type Filter } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { accepted, checkIncreasing, checkOncePerDocument, checkStreamResumable, Stream, type ServerCheck } from "../src/server-check-helpers.js";
import type { ServerContext } from "../src/server-context.js";
import { check, CheckFailure, checkEqual, checkError, expectFailure, insert, pullAll, pullResyncing, remove, Skip, update, wireError, type SyncClient, type WireError } from "../src/wire.js";

// ---------------------------------------------------------------- helpers

/** A filter from conditions written as [field, value as JSON text, ...]. */
function filterOf(...conditions: [string, ...string[]][]): Filter {
  return create(FilterSchema, { conditions: conditions.map(([field, ...values]) => ({ field, values })) });
}

const text = (value: unknown) => JSON.stringify(value);

/** The fields the server declares indexed in every collection. */
function indexed(ctx: ServerContext): string[] {
  const fields = ctx.features.filters?.fields ?? [];
  if (fields.length === 0) throw new Skip("the server declares no indexed fields (filters.fields)");
  return fields;
}

/** Two collections of the case that must differ (a server of fixed collections may have too few). */
function twoCollections(ctx: ServerContext, a: string, b: string): [string, string] {
  const [x, y] = [ctx.collection(a), ctx.collection(b)];
  if (x === y) throw new Skip(`the check needs two collections; the server's fixed collections give ${x} for both`);
  return [x, y];
}

/** A field no server indexes unless it indexes every field (the not-indexed case requires that). */
function unindexedField(ctx: ServerContext): string {
  let field = "pocketConformanceNotIndexed";
  while (indexed(ctx).includes(field)) field += "X";
  return field;
}

interface Written {
  readonly id: string;
  readonly revision: string;
  readonly serverSequence: bigint;
  /** The document text; undefined for a tombstone. */
  readonly document: string | undefined;
}

/**
 * One writer's documents in one collection, by short name: each write is an
 * insert or an update of the state it last wrote, or a delete (null). A
 * document is given as an object or as JSON text (for `1.0`, escapes and
 * the like, which JSON.stringify would rewrite).
 */
class Docs {
  readonly written = new Map<string, Written>();
  private readonly clientId: string;

  constructor(
    private readonly ctx: ServerContext,
    readonly collection: string,
    writer = "writer",
  ) {
    this.clientId = ctx.clientId(writer);
  }

  id(name: string): string {
    return this.ctx.doc(name);
  }

  get(name: string): Written {
    const w = this.written.get(name);
    check(w, `the case wrote no document ${name}`);
    return w;
  }

  /** Writes every entry in one push, in order; returns what was committed. */
  async write(entries: Record<string, unknown>): Promise<Written[]> {
    const changes: ChangeEvent[] = [];
    for (const [name, value] of Object.entries(entries)) {
      const id = this.id(name);
      const before = this.written.get(name);
      if (value === null) {
        check(before && before.document !== undefined, `the case deletes ${name}, which it has not written`);
        changes.push(remove(this.collection, id, before.revision, this.ctx.seq()));
      } else {
        check(before?.document !== undefined || before === undefined, `the case writes ${name} again after deleting it`);
        changes.push(before ? update(this.collection, id, value, before.revision, this.ctx.seq()) : insert(this.collection, id, value, this.ctx.seq()));
      }
    }
    const out: Written[] = [];
    for (let start = 0; start < changes.length; start += 500) {
      const part = changes.slice(start, start + 500);
      const res = await this.ctx.client().push({ clientId: this.clientId, changes: part }, { signal: this.ctx.signal });
      part.forEach((c, i) => {
        const a = accepted(res, i);
        const w: Written = { id: c.documentId, revision: a.revision, serverSequence: a.serverSequence, document: c.operation === Operation.DELETE ? undefined : c.document };
        this.written.set(c.documentId.slice(this.ctx.ns.length + 1), w);
        out.push(w);
      });
    }
    return out;
  }
}

function describe(c: ChangeEvent): string {
  const kind = c.removed ? "a removal" : c.deleted ? "a tombstone" : `the state ${c.document}`;
  return `${c.documentId} at ${c.serverSequence} (${kind})`;
}

/** The change must be a removal of `w`'s document at `w`'s sequence, disclosing nothing else (§13.6). */
function checkRemoval(c: ChangeEvent | undefined, collection: string, w: Written, what: string): void {
  check(c, `${what}: expected a removal of ${w.id}, got nothing for it`);
  check(c.removed, `${what}: expected a removal (removed = true) of ${w.id}, got ${describe(c)}`);
  check(c.deleted, `${what}: a removal has deleted = true (§13.6), ${w.id}'s has not`);
  checkEqual(c.operation, Operation.DELETE, `${what}: a removal's operation (OPERATION_DELETE, §13.6)`);
  checkEqual(c.collection, collection, `${what}: the removal's collection`);
  checkEqual(c.serverSequence, w.serverSequence, `${what}: the removal's server_sequence (that of the change it stands for, §13.6)`);
  const leaked = [
    ["document", c.document !== ""],
    ["revision", c.revision !== ""],
    ["base_revision", c.baseRevision !== ""],
    ["client_id", c.clientId !== ""],
    ["client_sequence", c.clientSequence !== 0n],
    ["timestamp", c.timestamp !== undefined && (c.timestamp.wallTimeMs !== 0n || c.timestamp.logical !== 0)],
  ].filter(([, set]) => set).map(([field]) => field);
  checkEqual(leaked, [], `${what}: fields a removal of ${w.id} must leave empty (§13.6: nothing of the state the principal may not read)`);
}

/** The change must be `w`'s tombstone: a delete for everyone, not a removal. */
function checkTombstone(c: ChangeEvent | undefined, w: Written, what: string): void {
  check(c, `${what}: expected the tombstone of ${w.id}, got nothing for it`);
  check(!c.removed && c.deleted, `${what}: expected the tombstone of ${w.id} (deleted, removed = false), got ${describe(c)}`);
  checkEqual([c.revision, c.serverSequence], [w.revision, w.serverSequence], `${what}: the tombstone's [revision, server_sequence]`);
}

/** The change must be `w` in its state: the document, its revision and sequence. */
function checkState(c: ChangeEvent | undefined, w: Written, what: string): void {
  check(c, `${what}: expected ${w.id} in its current state, got nothing for it`);
  check(!c.removed && !c.deleted, `${what}: expected ${w.id} in its current state, got ${describe(c)}`);
  checkEqual([c.revision, c.serverSequence], [w.revision, w.serverSequence], `${what}: ${w.id}'s [revision, server_sequence]`);
  checkEqual(JSON.parse(c.document) as unknown, JSON.parse(w.document!) as unknown, `${what}: ${w.id}'s document`);
}

/** Exactly these documents in these states, in increasing sequence, once each. */
function checkExactly(changes: readonly ChangeEvent[], expected: readonly Written[], what: string): void {
  checkIncreasing(changes, what);
  checkOncePerDocument(changes, what);
  const want = [...expected].sort((a, b) => (a.serverSequence < b.serverSequence ? -1 : 1));
  checkEqual(changes.map((c) => c.documentId), want.map((w) => w.id), `${what}: the documents returned`);
  want.forEach((w, i) => checkState(changes[i], w, what));
}

/**
 * A pull of several pages must hold exactly these documents in these states:
 * each page in increasing sequence, once per document (§4.5); across pages a
 * filtered collection may repeat a document in the same state (§4.10).
 */
function checkPulled(ctx: ServerContext, pulled: { pages: readonly { changes: readonly ChangeEvent[] }[] }, expected: readonly Written[], what: string): void {
  const replica = new Replica();
  pulled.pages.forEach((page, i) => {
    const mine = ctx.mine(page.changes);
    checkIncreasing(mine, `${what}, page ${i + 1}`);
    checkOncePerDocument(mine, `${what}, page ${i + 1}`);
    replica.apply(mine, what);
  });
  const got = [...replica.held.values()].sort((a, b) => (a.serverSequence < b.serverSequence ? -1 : 1));
  const want = [...expected].sort((a, b) => (a.serverSequence < b.serverSequence ? -1 : 1));
  checkEqual(got.map((c) => c.documentId), want.map((w) => w.id), `${what}: the documents returned`);
  want.forEach((w, i) => checkState(got[i], w, what));
}

/** Pulls `collection` under `filter` until has_more is false. */
function pullFiltered(ctx: ServerContext, collection: string, filter: Filter | undefined, checkpoint?: Checkpoint, limit = 0, client: SyncClient = ctx.client()) {
  return pullAll(client, [collection], checkpoint, limit, filter ? { [collection]: filter } : {});
}

/** The error a stream fails with before or at its first message. */
async function subscribeFailure(what: string, client: SyncClient, request: Parameters<SyncClient["subscribe"]>[0]): Promise<WireError> {
  return expectFailure(what, async () => {
    for await (const m of client.subscribe(request)) { void m; return; }
  });
}

/** A Pull and a Subscribe with `request` must both fail with `expected`. */
async function checkRefused(ctx: ServerContext, request: { collections: string[]; checkpoint?: Checkpoint | undefined; filters: Record<string, Filter> }, expected: Parameters<typeof checkError>[1], what: string): Promise<WireError[]> {
  const pulled = await expectFailure(`pull: ${what}`, () => ctx.client().pull(request, { signal: ctx.signal }));
  checkError(pulled, expected, `pull: ${what}`);
  const streamed = await subscribeFailure(`subscribe: ${what}`, ctx.client(), request);
  checkError(streamed, expected, `subscribe: ${what}`);
  return [pulled, streamed];
}

function copyCheckpoint(k: Checkpoint | undefined, edit: (k: Checkpoint) => void = () => undefined): Checkpoint {
  const copy = create(CheckpointSchema, k ?? {});
  copy.collections = { ...copy.collections };
  copy.filters = { ...copy.filters };
  copy.pagingSince = { ...copy.pagingSince };
  edit(copy);
  return copy;
}

/**
 * A client's copy of one collection, kept as §13.6 tells a client to: a
 * change is applied only above the sequence of the state it holds (a page
 * may repeat one, §4.10), a removal drops the copy (also at the very
 * sequence it holds), a tombstone deletes it.
 */
class Replica {
  readonly held = new Map<string, ChangeEvent>();
  readonly everNamed = new Set<string>();

  apply(changes: readonly ChangeEvent[], what: string): void {
    for (const c of changes) {
      this.everNamed.add(c.documentId);
      const mine = this.held.get(c.documentId);
      if (c.removed) {
        if (mine && c.serverSequence >= mine.serverSequence) this.held.delete(c.documentId);
        continue;
      }
      if (mine && c.serverSequence <= mine.serverSequence) {
        if (c.serverSequence === mine.serverSequence) {
          checkEqual([c.revision, c.deleted, c.document], [mine.revision, mine.deleted, mine.document], `${what}: ${c.documentId} delivered again at ${c.serverSequence} in another state (§4.10: a repeat is in the same state)`);
        }
        continue;
      }
      this.held.set(c.documentId, c);
    }
  }

  /** The documents held (tombstones are not documents). */
  live(): Map<string, string> {
    return new Map([...this.held].filter(([, c]) => !c.deleted).map(([id, c]) => [id, c.revision]));
  }
}

/** What a replica of `docs` under "field in values" must hold: id -> revision. */
function expectedHeld(docs: Docs, field: string, values: readonly unknown[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const w of docs.written.values()) {
    if (w.document === undefined) continue;
    const value = (JSON.parse(w.document) as Record<string, unknown>)[field];
    if (values.includes(value)) out.set(w.id, w.revision);
  }
  return out;
}

function checkHeld(replica: Replica, expected: Map<string, string>, what: string): void {
  const held = replica.live();
  const missing = [...expected].filter(([id]) => !held.has(id)).map(([id]) => id);
  const extra = [...held].filter(([id]) => !expected.has(id)).map(([id]) => id);
  const stale = [...expected].filter(([id, rev]) => held.has(id) && held.get(id) !== rev).map(([id, rev]) => `${id} at ${held.get(id)} instead of ${rev}`);
  check(
    missing.length + extra.length + stale.length === 0,
    `${what}: a client applying what it got (§13.6) does not hold exactly the matching documents (§4.11): missing [${missing.join(", ")}], held but not matching [${extra.join(", ")}], stale [${stale.join(", ")}]`,
  );
}

// ---------------------------------------------------------------- cases

const equality: ServerCheck = async (ctx) => {
  const [f] = indexed(ctx);
  const c = ctx.collection("eq");
  const docs = new Docs(ctx, c);
  await docs.write({
    strA: { [f!]: "a" },
    strB: { [f!]: "b" },
    upperA: { [f!]: "A" },
    num1: { [f!]: 1 },
    num1dot0: `{"${f}":1.0}`,
    num1e0: `{"${f}":1e0}`,
    num1half: { [f!]: 1.5 },
    str1: { [f!]: "1" },
    nul: { [f!]: null },
    missing: { other: "a" },
    array: { [f!]: ["a"] },
    object: { [f!]: { a: 1 } },
    yes: { [f!]: true },
    no: { [f!]: false },
    escaped: `{"${f}":"\\u0061"}`,
    composed: { [f!]: "\u00e9" },
    decomposed: { [f!]: "e\u0301" },
    deletedA: { [f!]: "a" },
    nested: { inner: { [f!]: "a" } },
  });
  await docs.write({ deletedA: null });
  const w = (name: string) => docs.get(name);
  const judge = async (values: string[], expected: string[], rule: string) => {
    const pulled = await pullFiltered(ctx, c, filterOf([f!, ...values]));
    checkPulled(ctx, pulled, expected.map(w), `${f} = ${values.join(" | ")} (${rule})`);
    check(pulled.checkpoint?.filters[c], `${f} = ${values.join(" | ")}: the checkpoint carries no filters["${c}"] (§4.10)`);
  };
  await judge([text("a")], ["strA", "escaped"], 'strings compare exactly; "\\u0061" is the string "a"; an array holding "a", a nested field and a tombstone match nothing');
  await judge([text("\u00e9")], ["composed"], "strings compare exactly: no Unicode normalization");
  await judge(["1"], ["num1", "num1dot0", "num1e0"], "numbers compare by value: 1, 1.0 and 1e0 are equal; the string \"1\" is not");
  await judge(["1.0"], ["num1", "num1dot0", "num1e0"], "a filter value 1.0 equals 1");
  await judge([text("1")], ["str1"], 'the string "1" equals only the string');
  await judge(["null"], ["nul"], "null matches a null field, never a missing one");
  await judge(["true"], ["yes"], "true matches only true");
  await judge(["false"], ["no"], "false matches only false (not a missing field, not null)");
  await judge([text("zzz")], [], "a value no document holds");
};

const inValues: ServerCheck = async (ctx) => {
  const [f] = indexed(ctx);
  const c = ctx.collection("in");
  const docs = new Docs(ctx, c);
  await docs.write({ a: { [f!]: "a" }, b: { [f!]: "b" }, c: { [f!]: "c" }, one: { [f!]: 1 }, str1: { [f!]: "1" }, none: { x: 1 } });
  const judge = async (values: string[], expected: string[]) => {
    const pulled = await pullFiltered(ctx, c, filterOf([f!, ...values]));
    checkPulled(ctx, pulled, expected.map((n) => docs.get(n)), `${f} in (${values.join(", ")})`);
  };
  await judge([text("a"), text("b")], ["a", "b"]);
  await judge([text("b"), text("a"), text("a"), text("b")], ["a", "b"]);
  await judge(["1", text("c")], ["c", "one"]);
  await judge([text("x"), "null", text("c")], ["c"]);
};

const and: ServerCheck = async (ctx) => {
  const [f, g] = indexed(ctx);
  const [c, other] = twoCollections(ctx, "and", "and_other");
  const docs = new Docs(ctx, c);
  await docs.write({ ax: { [f!]: "a", [g!]: "x" }, ay: { [f!]: "a", [g!]: "y" }, bx: { [f!]: "b", [g!]: "x" }, aOnly: { [f!]: "a" }, xOnly: { [g!]: "x" } });
  const others = new Docs(ctx, other);
  await others.write({ o1: { [f!]: "b" }, o2: { z: 1 } });
  const judge = async (filter: Filter, expected: string[], what: string) => {
    const pulled = await pullFiltered(ctx, c, filter);
    checkPulled(ctx, pulled, expected.map((n) => docs.get(n)), what);
  };
  await judge(filterOf([f!, text("a")], [g!, text("x")]), ["ax"], `${f} = "a" and ${g} = "x"`);
  await judge(filterOf([g!, text("x")], [f!, text("a")]), ["ax"], `${g} = "x" and ${f} = "a" (the same, reordered)`);
  await judge(filterOf([f!, text("a")], [g!, text("x"), text("y")]), ["ax", "ay"], `${f} = "a" and ${g} in ("x", "y")`);
  await judge(filterOf([f!, text("b")], [g!, text("y")]), [], `${f} = "b" and ${g} = "y"`);
  // A filter narrows its own collection only.
  const both = await pullAll(ctx.client(), [c, other], undefined, 0, { [c]: filterOf([f!, text("a")], [g!, text("x")]) });
  checkPulled(ctx, both, [docs.get("ax"), others.get("o1"), others.get("o2")], `a pull of ${c} (filtered) and ${other} (not filtered)`);
  check(both.checkpoint?.filters[c], `the checkpoint carries no filters["${c}"]`);
  checkEqual(both.checkpoint?.filters[other], undefined, `filters["${other}"] of a collection read without a filter (§4.10: removed)`);
};

const everyCollection: ServerCheck = async (ctx) => {
  if (!ctx.features.openCollections) throw new Skip("the server declares fixed collections; the check reads every collection and needs its own");
  const [f] = indexed(ctx);
  const [c, other] = twoCollections(ctx, "every_f", "every_o");
  const docs = new Docs(ctx, c);
  await docs.write({ in1: { [f!]: "a" }, out1: { [f!]: "b" } });
  const others = new Docs(ctx, other);
  await others.write({ o1: { [f!]: "b" } });
  const filters = { [c]: filterOf([f!, text("a")]) };
  // Pages of 1000, resyncing as a client does: a read of every collection from the beginning pages through all the server holds.
  const pulled = await pullResyncing(ctx.client(), [], undefined, 1000, filters);
  checkPulled(ctx, pulled, [docs.get("in1"), others.get("o1")], "a pull naming no collection, with a filter for one");
  check(pulled.checkpoint?.filters[c], `a pull naming no collection: the checkpoint carries no filters["${c}"]`);
  const stream = new Stream(ctx.client(), [], { signal: ctx.signal, filters, checkpoint: pulled.checkpoint });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp());
    const [out2, in2] = [...(await docs.write({ out2: { [f!]: "c" } })), ...(await docs.write({ in2: { [f!]: "a" } }))];
    await stream.waitFor("the live change that matches", () => stream.changes().some((x) => x.documentId === in2!.id));
    check(!stream.changes().some((x) => x.documentId === docs.id("out1") || x.documentId === out2!.id), "a stream naming no collection delivered a document its filter does not match");
    // The order across batches beside a filtered collection is catch-up-beside-whole's to judge.
    checkStreamResumable(stream, "the unfiltered collections of a stream naming no collection, with a filter", (x) => x.collection !== c);
  } finally {
    await stream.close();
  }
};

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

const checkpointDigest: ServerCheck = async (ctx) => {
  const fields = indexed(ctx);
  const [f] = fields;
  const g = fields[1];
  const [c, plain] = twoCollections(ctx, "digest", "digest_plain");
  const docs = new Docs(ctx, c);
  await docs.write({ a: { [f!]: "a", ...(g ? { [g]: "x" } : {}) }, b: { [f!]: "b", ...(g ? { [g]: "y" } : {}) } });
  await new Docs(ctx, plain).write({ p: { z: 1 } });
  const filter = g ? filterOf([f!, text("a"), text("b")], [g, text("x"), text("y")]) : filterOf([f!, text("a"), text("b")]);
  const reordered = g ? filterOf([g, text("y"), text("x"), text("y")], [f!, text("b"), text("a")]) : filterOf([f!, text("b"), text("a"), text("b")]);
  const first = await pullAll(ctx.client(), [c, plain], undefined, 0, { [c]: filter });
  const digest = first.checkpoint?.filters[c];
  check(digest, `the checkpoint of a filtered pull carries no filters["${c}"] (§4.10)`);
  checkEqual(first.checkpoint?.filters[plain], undefined, `filters["${plain}"] of a collection read without a filter`);
  const [more] = await docs.write({ more: { [f!]: "a", ...(g ? { [g]: "x" } : {}) } });
  const resumed = await pullAll(ctx.client(), [c, plain], first.checkpoint, 0, { [c]: reordered });
  checkPulled(ctx, resumed, [more!], "resuming with the same filter, conditions and values reordered and repeated (§4.10: the same digest)");
  checkEqual(resumed.checkpoint?.filters[c], digest, `filters["${c}"] after resuming with the same filter reordered`);
  // A stream's batches and heartbeats carry it too.
  const stream = new Stream(ctx.client(), [c, plain], { signal: ctx.signal, filters: { [c]: reordered }, checkpoint: resumed.checkpoint, heartbeatIntervalMs: 500 });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp());
    const [live] = await docs.write({ live: { [f!]: "b", ...(g ? { [g]: "y" } : {}) } });
    await stream.waitFor("the live change", () => stream.changes().some((x) => x.documentId === live!.id));
    await stream.waitFor("a heartbeat", () => stream.heartbeats().length > 0, 5000);
    for (const { index, kind, checkpoint } of stream.checkpoints()) {
      checkEqual(checkpoint?.filters[c], digest, `stream message ${index} (${kind}): filters["${c}"]`);
      checkEqual(checkpoint?.filters[plain], undefined, `stream message ${index} (${kind}): filters["${plain}"] of a collection read without a filter`);
    }
  } finally {
    await stream.close();
  }
  // A collection read without a filter from a position of 0 loses its digest.
  const unfiltered = await pullAll(ctx.client(), [c], copyCheckpoint(resumed.checkpoint, (k) => delete k.collections[c]));
  checkEqual(unfiltered.checkpoint?.filters[c], undefined, `filters["${c}"] after reading ${c} without a filter (§4.10: removed)`);
};

const digestCarriedOver: ServerCheck = async (ctx) => {
  const [f] = indexed(ctx);
  const [c, other] = twoCollections(ctx, "carried", "carried_other");
  const docs = new Docs(ctx, c);
  const others = new Docs(ctx, other);
  await docs.write({ a: { [f!]: "a" } });
  await others.write({ o: { z: 1 } });
  const filter = filterOf([f!, text("a")]);
  const k = (await pullFiltered(ctx, c, filter)).checkpoint;
  const digest = k?.filters[c];
  check(digest, `the checkpoint of a filtered pull carries no filters["${c}"]`);
  // Resuming c under its filter from `from` must work and return `expected`.
  const resumes = async (from: Checkpoint | undefined, expected: Written[], what: string) => {
    checkEqual(from?.collections[c], k?.collections[c], `${what}: the position for ${c}, which it did not read (§4.5: carried over)`);
    checkEqual(from?.filters[c], digest, `${what}: filters["${c}"], the digest its position was read under`);
    let again;
    try {
      again = await pullFiltered(ctx, c, filter, from);
    } catch (error) {
      const e = wireError(error);
      throw new CheckFailure(`${what}: resuming ${c} under its filter failed: ${e.codeName} ${e.reason ?? ""} ${e.message}`);
    }
    checkPulled(ctx, again, expected, `${what}: resuming ${c} under its filter`);
  };
  const [o2] = await others.write({ o: { z: 2 } });
  const pulled = await pullAll(ctx.client(), [other], k);
  checkPulled(ctx, pulled, [o2!], `a pull of ${other} alone`);
  await resumes(pulled.checkpoint, [], `a pull of ${other} alone, without a filter`);
  const stream = new Stream(ctx.client(), [other], { signal: ctx.signal, checkpoint: pulled.checkpoint, heartbeatIntervalMs: 500 });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp());
    const [o3] = await others.write({ o: { z: 3 } });
    await stream.waitFor("the live change", () => stream.changes().some((x) => x.documentId === o3!.id));
    await stream.waitFor("a heartbeat", () => stream.heartbeats().length > 0, 5000);
    for (const { index, kind, checkpoint } of stream.checkpoints()) await resumes(checkpoint, [], `stream message ${index} (${kind}) of ${other} alone, without a filter`);
  } finally {
    await stream.close();
  }
};

const filterChanged: ServerCheck = async (ctx) => {
  const fields = indexed(ctx);
  const [f] = fields;
  const [c, plain] = twoCollections(ctx, "changed", "changed_plain");
  await new Docs(ctx, c).write({ a: { [f!]: "a" }, b: { [f!]: "b" } });
  await new Docs(ctx, plain).write({ p: { [f!]: "a" } });
  const filter = filterOf([f!, text("a")]);
  const k = (await pullAll(ctx.client(), [c, plain], undefined, 0, { [c]: filter })).checkpoint;
  check((k?.collections[c] ?? 0n) > 0n, `the checkpoint's position for ${c} must be above 0`);
  const changes: [string, Record<string, Filter>][] = [
    ["another value", { [c]: filterOf([f!, text("b")]) }],
    ["another value added", { [c]: filterOf([f!, text("a"), text("b")]) }],
    ["the filter dropped", {}],
    ...(fields[1] ? [["another condition added", { [c]: filterOf([f!, text("a")], [fields[1], text("x")]) }] as [string, Record<string, Filter>]] : []),
    ["a filter added to a collection read without one", { [c]: filter, [plain]: filterOf([f!, text("a")]) }],
  ];
  for (const [what, filters] of changes) {
    const refusedFor = what.startsWith("a filter added") ? plain : c;
    const errors = await checkRefused(ctx, { collections: [c, plain], checkpoint: k, filters }, { code: Code.FailedPrecondition, reason: "ERROR_REASON_RESYNC_REQUIRED" }, `a checkpoint read under one filter, then ${what}`);
    for (const e of errors) {
      check((e.metadata.collections ?? "").split(",").includes(refusedFor), `${what}: ErrorInfo metadata collections must name ${refusedFor} (§4.10), got "${e.metadata.collections ?? ""}"`);
    }
  }
  // From the empty checkpoint any filter is fine.
  const fromEmpty = await pullAll(ctx.client(), [c, plain], undefined, 0, { [c]: filterOf([f!, text("b")]), [plain]: filter });
  check(fromEmpty.checkpoint?.filters[c] && fromEmpty.checkpoint.filters[plain], "the empty checkpoint with filters on both collections: both digests");
  // The client's resync (§8.4): c's position removed, the old digest still there; the new filter is accepted and its digest replaces the old.
  const resync = copyCheckpoint(k, (x) => delete x.collections[c]);
  const newFilter = filterOf([f!, text("b")]);
  const after = await pullAll(ctx.client(), [c, plain], resync, 0, { [c]: newFilter });
  checkEqual(ctx.mine(after.changes).map((x) => x.documentId), [ctx.doc("b")], "the resync under the new filter");
  check(after.checkpoint?.filters[c] && after.checkpoint.filters[c] !== k?.filters[c], `after the resync, filters["${c}"] holds the new filter's digest, not the old one`);
  checkEqual(after.checkpoint?.filters[c], fromEmpty.checkpoint?.filters[c], `the digest of one filter is the same whatever the checkpoint`);
  // And resuming from there under the new filter works, on Pull and Subscribe.
  await pullAll(ctx.client(), [c, plain], after.checkpoint, 0, { [c]: newFilter });
  const stream = new Stream(ctx.client(), [c, plain], { signal: ctx.signal, filters: { [c]: newFilter }, checkpoint: after.checkpoint });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp());
  } finally {
    await stream.close();
  }
};

type ReadRequest = { collections: string[]; filters: Record<string, Filter> };
type Refusal = [what: string, request: ReadRequest, expected: Parameters<typeof checkError>[1], extra?: (e: WireError) => string | undefined];

/** Judges every refusal on Pull and Subscribe, and reports every one missed at once. */
async function checkRefusals(ctx: ServerContext, refusals: readonly Refusal[], what: string): Promise<void> {
  const missed: string[] = [];
  for (const [name, request, expected, extra] of refusals) {
    try {
      for (const e of await checkRefused(ctx, request, expected, name)) {
        const problem = extra?.(e);
        if (problem) throw new CheckFailure(`${name}: ${problem}`);
      }
    } catch (error) {
      if (!(error instanceof CheckFailure)) throw error;
      missed.push(error.message);
    }
  }
  checkEqual(missed, [], what);
}

const badRequest = (field?: string) => ({ code: Code.InvalidArgument, reason: "ERROR_REASON_INVALID_ARGUMENT", ...(field ? { field } : {}) });

const invalid: ServerCheck = async (ctx) => {
  const [f] = indexed(ctx);
  const [c, other] = twoCollections(ctx, "invalid", "invalid_other");
  await new Docs(ctx, c).write({ a: { [f!]: "a" } });
  const path = `filters["${c}"].conditions`;
  const one = (filter: Filter): ReadRequest => ({ collections: [c], filters: { [c]: filter } });
  const notScalars = ["{}", '{"a":1}', "[1]", "[]", "abc", "'a'", '"unterminated', "01", "NaN", "1 2", '"a" "b"', "undefined", "-", "1.", "True"];
  const refusals: Refusal[] = notScalars.map((value) => [`the filter value ${JSON.stringify(value)} (not a JSON scalar)`, one(filterOf([f!, text("a"), value])), badRequest(`${path}[0].values[1]`)]);
  refusals.push(
    ["two conditions on one field", one(filterOf([f!, text("a")], [f!, text("b")])), badRequest(), (e) => (e.fields.some((x) => x.startsWith(path)) ? undefined : `expected a BadRequest field violation naming ${path}[…], got [${e.fields.join(", ")}]`)],
    ["a filter for a collection not in collections", { collections: [c], filters: { [other]: filterOf([f!, text("a")]) } }, badRequest(), (e) => (e.fields.some((x) => x.startsWith(`filters["${other}"]`)) ? undefined : `expected a BadRequest field violation naming filters["${other}"], got [${e.fields.join(", ")}]`)],
  );
  await checkRefusals(ctx, refusals, "invalid filters answered otherwise than §4.10 says (invalid_argument, ERROR_REASON_INVALID_ARGUMENT, a BadRequest naming the field path)");
  // A valid filter of every kind of JSON scalar is accepted.
  const ok = await pullFiltered(ctx, c, filterOf([f!, text("a"), "1", "-2.5e3", "true", "false", "null", text("")]));
  checkEqual(ctx.mine(ok.changes).map((x) => x.documentId), [ctx.doc("a")], "a filter of every kind of JSON scalar");
};

const schemaLimits: ServerCheck = async (ctx) => {
  const [f] = indexed(ctx);
  const c = ctx.collection("limits");
  const path = `filters["${c}"].conditions`;
  const one = (filter: Filter): ReadRequest => ({ collections: [c], filters: { [c]: filter } });
  await checkRefusals(ctx, [
    ["an empty filter value (1 to 1024 characters)", one(filterOf([f!, ""])), badRequest(`${path}[0].values[0]`)],
    ["a filter value of more than 1024 characters", one(filterOf([f!, text("x".repeat(1030))])), badRequest(`${path}[0].values[0]`)],
    ["a filter without conditions (1 to 8)", one(create(FilterSchema, { conditions: [] })), badRequest(`filters["${c}"].conditions`)],
    ["a filter of 9 conditions (1 to 8)", one(filterOf(...Array.from({ length: 9 }, (_, i): [string, string] => [i === 0 ? f! : `field${i}`, text("a")]))), badRequest(`filters["${c}"].conditions`)],
    ["a condition on an empty field name (1 to 128 characters)", one(filterOf(["", text("a")])), badRequest(`${path}[0].field`)],
    ["a field name of 129 characters (1 to 128)", one(filterOf(["f".repeat(129), text("a")])), badRequest(`${path}[0].field`)],
    ["a condition of 101 values (1 to 100)", one(filterOf([f!, ...Array.from({ length: 101 }, (_, i) => String(i))])), badRequest(`${path}[0].values`)],
    ["a filter keyed by a name that is not a collection name", { collections: [], filters: { "1bad": filterOf([f!, text("a")]) } }, badRequest()],
    ["65 filters (at most 64)", { collections: [], filters: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`${c}_${i}`, filterOf([f!, text("a")])])) }, badRequest("filters")],
  ], "filters breaking a limit of §14 answered otherwise than §11 says (invalid_argument, ERROR_REASON_INVALID_ARGUMENT, a BadRequest naming the field)");
};

const notIndexed: ServerCheck = async (ctx) => {
  const [f] = indexed(ctx);
  const u = unindexedField(ctx);
  const c = ctx.collection("unindexed");
  await new Docs(ctx, c).write({ a: { [f!]: "a", [u]: "a" } });
  const expected = { code: Code.FailedPrecondition, reason: "ERROR_REASON_FILTER_NOT_INDEXED" };
  const requests: [string, { collections: string[]; filters: Record<string, Filter> }][] = [
    ["equality on a field the server does not index", { collections: [c], filters: { [c]: filterOf([u, text("a")]) } }],
    ["in on a field the server does not index", { collections: [c], filters: { [c]: filterOf([u, text("a"), text("b")]) } }],
    ["a pull naming no collection, with such a filter", { collections: [], filters: { [c]: filterOf([u, text("a")]) } }],
  ];
  for (const [what, request] of requests) {
    for (const e of await checkRefused(ctx, request, expected, what)) {
      checkEqual(e.metadata.collection, c, `${what}: ErrorInfo metadata collection (§4.10)`);
    }
  }
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

const noWiderAccess: ServerCheck = async (ctx) => {
  ctx.require("token2-read");
  const [f] = indexed(ctx);
  const forbidden = ctx.features.auth.token2CannotRead[0]!;
  const docs = new Docs(ctx, forbidden);
  await docs.write({ secret: { [f!]: "a" } });
  const restricted = ctx.client({ token: "token2" });
  const filters = { [forbidden]: filterOf([f!, text("a")]) };
  const pulled = await expectFailure(`token2: a filtered pull of ${forbidden}`, () => restricted.pull({ collections: [forbidden], filters }, { signal: ctx.signal }));
  checkError(pulled, { code: Code.PermissionDenied, reason: "ERROR_REASON_PERMISSION_DENIED" }, `a filtered pull of ${forbidden}, which the principal may not read (§13.3)`);
  const streamed = await subscribeFailure(`token2: a filtered subscribe to ${forbidden}`, restricted, { collections: [forbidden], filters });
  checkError(streamed, { code: Code.PermissionDenied, reason: "ERROR_REASON_PERMISSION_DENIED" }, `a filtered subscribe to ${forbidden}, which the principal may not read (§13.3)`);
  // Naming no collection: the forbidden one is skipped, filter or not (§4.8).
  let every;
  try {
    every = await pullAll(restricted, [], undefined, 1000, filters);
  } catch (error) {
    const e = wireError(error);
    throw new CheckFailure(`a pull naming no collection with a filter for ${forbidden} must skip it (§4.8), got ${e.codeName} ${e.reason ?? ""}: ${e.message}`);
  }
  check(!every.changes.some((x) => x.collection === forbidden), `a pull naming no collection with a filter for ${forbidden} returned its documents (§13.3)`);
  checkEqual(every.checkpoint?.collections[forbidden], undefined, `a position for ${forbidden}, which the principal may not read`);
  const stream = new Stream(restricted, [], { signal: ctx.signal, filters });
  try {
    await stream.waitFor("caught_up", () => stream.caughtUp());
    await docs.write({ secret2: { [f!]: "a" } });
    const allowed = ctx.features.auth.token2Allowed;
    if (allowed) {
      const [visible] = await new Docs(ctx, allowed, "allowed").write({ visible: { [f!]: "a" } });
      await stream.waitFor("the change to the readable collection", () => stream.changes().some((x) => x.documentId === visible!.id));
    }
    check(!stream.changes().some((x) => x.collection === forbidden), `a stream naming no collection with a filter for ${forbidden} delivered its documents (§13.3)`);
  } finally {
    await stream.close();
  }
};

export const checks: Record<string, ServerCheck> = {
  equality,
  in: inValues,
  and,
  "every-collection": everyCollection,
  "move-out-pull": moveOutPull,
  "move-out-subscribe": moveOutSubscribe,
  chain,
  "checkpoint-digest": checkpointDigest,
  "digest-carried-over": digestCarriedOver,
  "filter-changed": filterChanged,
  invalid,
  "schema-limits": schemaLimits,
  "not-indexed": notIndexed,
  paging,
  "subscribe-catch-up": subscribeCatchUp,
  "catch-up-beside-whole": catchUpBesideWhole,
  converges,
  "no-wider-access": noWiderAccess,
};
