// What the filters suites share (conformance/cases/server-filters.ts and
// server-filter-moves.ts, PROTOCOL §4.10–4.12): filters written as data, a
// writer of documents by short name, the checks of a removal, a tombstone
// and a state, refusals judged on Pull and Subscribe, and a client's copy of
// a filtered collection kept as §13.6 tells it to.
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { CheckpointSchema, FilterSchema, Operation, type ChangeEvent, type Checkpoint, type Filter } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { accepted, checkIncreasing, checkOncePerDocument } from "./server-check-helpers.js";
import type { ServerContext } from "./server-context.js";
import { check, CheckFailure, checkEqual, checkError, expectFailure, insert, pullAll, remove, Skip, update, type SyncClient, type WireError } from "./wire.js";

/** A filter from conditions written as [field, value as JSON text, ...]. */
export function filterOf(...conditions: [string, ...string[]][]): Filter {
  return create(FilterSchema, { conditions: conditions.map(([field, ...values]) => ({ field, values })) });
}

export const text = (value: unknown) => JSON.stringify(value);

/** The fields the server declares indexed in every collection. */
export function indexed(ctx: ServerContext): string[] {
  const fields = ctx.features.filters?.fields ?? [];
  if (fields.length === 0) throw new Skip("the server declares no indexed fields (filters.fields)");
  return fields;
}

/** Two collections of the case that must differ (a server of fixed collections may have too few). */
export function twoCollections(ctx: ServerContext, a: string, b: string): [string, string] {
  const [x, y] = [ctx.collection(a), ctx.collection(b)];
  if (x === y) throw new Skip(`the check needs two collections; the server's fixed collections give ${x} for both`);
  return [x, y];
}

/** A field no server indexes unless it indexes every field (the not-indexed case requires that). */
export function unindexedField(ctx: ServerContext): string {
  let field = "pocketConformanceNotIndexed";
  while (indexed(ctx).includes(field)) field += "X";
  return field;
}

export interface Written {
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
export class Docs {
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

export function describe(c: ChangeEvent): string {
  const kind = c.removed ? "a removal" : c.deleted ? "a tombstone" : `the state ${c.document}`;
  return `${c.documentId} at ${c.serverSequence} (${kind})`;
}

/** The change must be a removal of `w`'s document at `w`'s sequence, disclosing nothing else (§13.6). */
export function checkRemoval(c: ChangeEvent | undefined, collection: string, w: Written, what: string): void {
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
export function checkTombstone(c: ChangeEvent | undefined, w: Written, what: string): void {
  check(c, `${what}: expected the tombstone of ${w.id}, got nothing for it`);
  check(!c.removed && c.deleted, `${what}: expected the tombstone of ${w.id} (deleted, removed = false), got ${describe(c)}`);
  checkEqual([c.revision, c.serverSequence], [w.revision, w.serverSequence], `${what}: the tombstone's [revision, server_sequence]`);
}

/** The change must be `w` in its state: the document, its revision and sequence. */
export function checkState(c: ChangeEvent | undefined, w: Written, what: string): void {
  check(c, `${what}: expected ${w.id} in its current state, got nothing for it`);
  check(!c.removed && !c.deleted, `${what}: expected ${w.id} in its current state, got ${describe(c)}`);
  checkEqual([c.revision, c.serverSequence], [w.revision, w.serverSequence], `${what}: ${w.id}'s [revision, server_sequence]`);
  checkEqual(JSON.parse(c.document) as unknown, JSON.parse(w.document!) as unknown, `${what}: ${w.id}'s document`);
}

/** Exactly these documents in these states, in increasing sequence, once each. */
export function checkExactly(changes: readonly ChangeEvent[], expected: readonly Written[], what: string): void {
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
export function checkPulled(ctx: ServerContext, pulled: { pages: readonly { changes: readonly ChangeEvent[] }[] }, expected: readonly Written[], what: string): void {
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
export function pullFiltered(ctx: ServerContext, collection: string, filter: Filter | undefined, checkpoint?: Checkpoint, limit = 0, client: SyncClient = ctx.client()) {
  return pullAll(client, [collection], checkpoint, limit, filter ? { [collection]: filter } : {});
}

/** The error a stream fails with before or at its first message. */
export async function subscribeFailure(what: string, client: SyncClient, request: Parameters<SyncClient["subscribe"]>[0]): Promise<WireError> {
  return expectFailure(what, async () => {
    for await (const m of client.subscribe(request)) { void m; return; }
  });
}

/** A Pull and a Subscribe with `request` must both fail with `expected`. */
export async function checkRefused(ctx: ServerContext, request: { collections: string[]; checkpoint?: Checkpoint | undefined; filters: Record<string, Filter> }, expected: Parameters<typeof checkError>[1], what: string): Promise<WireError[]> {
  const pulled = await expectFailure(`pull: ${what}`, () => ctx.client().pull(request, { signal: ctx.signal }));
  checkError(pulled, expected, `pull: ${what}`);
  const streamed = await subscribeFailure(`subscribe: ${what}`, ctx.client(), request);
  checkError(streamed, expected, `subscribe: ${what}`);
  return [pulled, streamed];
}

export function copyCheckpoint(k: Checkpoint | undefined, edit: (k: Checkpoint) => void = () => undefined): Checkpoint {
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
export class Replica {
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
export function expectedHeld(docs: Docs, field: string, values: readonly unknown[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const w of docs.written.values()) {
    if (w.document === undefined) continue;
    const value = (JSON.parse(w.document) as Record<string, unknown>)[field];
    if (values.includes(value)) out.set(w.id, w.revision);
  }
  return out;
}

export function checkHeld(replica: Replica, expected: Map<string, string>, what: string): void {
  const held = replica.live();
  const missing = [...expected].filter(([id]) => !held.has(id)).map(([id]) => id);
  const extra = [...held].filter(([id]) => !expected.has(id)).map(([id]) => id);
  const stale = [...expected].filter(([id, rev]) => held.has(id) && held.get(id) !== rev).map(([id, rev]) => `${id} at ${held.get(id)} instead of ${rev}`);
  check(
    missing.length + extra.length + stale.length === 0,
    `${what}: a client applying what it got (§13.6) does not hold exactly the matching documents (§4.11): missing [${missing.join(", ")}], held but not matching [${extra.join(", ")}], stale [${stale.join(", ")}]`,
  );
}

export type ReadRequest = { collections: string[]; filters: Record<string, Filter> };
export type Refusal = [what: string, request: ReadRequest, expected: Parameters<typeof checkError>[1], extra?: (e: WireError) => string | undefined];

/** Judges every refusal on Pull and Subscribe, and reports every one missed at once. */
export async function checkRefusals(ctx: ServerContext, refusals: readonly Refusal[], what: string): Promise<void> {
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

export const badRequest = (field?: string) => ({ code: Code.InvalidArgument, reason: "ERROR_REASON_INVALID_ARGUMENT", ...(field ? { field } : {}) });
