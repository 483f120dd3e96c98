// Filtered reads in the core (PROTOCOL §4.11): what a page holds when a
// document changed after the page's high-water mark, how the page's budget
// is shared with whole collections, and the purge of a state the read needs.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FilterSchema, PushRequestSchema } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { pushed } from "../serve/testing.js";
import { createMemoryStorage } from "../storage/index.js";
import { SyncCore, type Principal } from "./sync-core.js";

const alice: Principal = { id: "alice" };
const listIs = (...values: string[]) => create(FilterSchema, { conditions: [{ field: "list", values: values.map((v) => JSON.stringify(v)) }] });

async function core(now = () => Date.now()) {
  const c = await SyncCore.open(createMemoryStorage(), { indexes: [{ collection: "*", field: "list" }], now });
  let sequence = 0;
  const write = async (id: string, document: object | null, base = "", collection = "todos") => {
    const response = await c.push(alice, create(PushRequestSchema, { clientId: "w", changes: [pushed(id, document, ++sequence, { baseRevision: base, collection })] }));
    const outcome = response.results[0]!.outcome;
    if (outcome.case !== "accepted") throw new Error(outcome.case);
    return outcome.value;
  };
  return { core: c, write };
}

describe("a filtered page", () => {
  it("holds each document in its state at the page's high-water mark, not a later one", async () => {
    const { core: c, write } = await core();
    const d1 = await write("d", { list: "a", v: 1 });
    await write("d", { list: "b", v: 2 }, d1.revision);
    const filters = c.compileFilters({ todos: listIs("a") }, ["todos"]);
    // Read as if the page's view ended before the move: d as it was then.
    const page = await c.readPage(["todos"], undefined, 10, d1.serverSequence, false, filters);
    expect(page.changes.map((e) => [e.documentId, e.serverSequence, e.document])).toEqual([["d", d1.serverSequence, '{"list":"a","v":1}']]);
    expect(page.checkpoint.collections.todos).toBe(d1.serverSequence);
    // The next page, from there, removes it.
    const next = await c.readPage(["todos"], page.checkpoint, 10, undefined, false, filters);
    const sent = await c.visibleChanges(alice, next.changes, page.checkpoint.collections, filters);
    expect(sent.map((e) => [e.documentId, e.removed])).toEqual([["d", true]]);
    // Filtering on b, the view before the move holds nothing.
    const b = await c.readPage(["todos"], undefined, 10, d1.serverSequence, false, c.compileFilters({ todos: listIs("b") }, ["todos"]));
    expect(b.changes).toEqual([]);
    await c.close();
  });

  it("shares its limit with whole collections, leaving a filtered one where it was when none is left", async () => {
    const { core: c, write } = await core();
    for (let i = 0; i < 3; i++) await write(`n${i}`, { i }, "", "notes");
    for (let i = 0; i < 3; i++) await write(`t${i}`, { list: "a", i });
    const filters = c.compileFilters({ todos: listIs("a") }, ["notes", "todos"]);
    const first = await c.readPage(["notes", "todos"], undefined, 3, undefined, false, filters);
    expect(first.changes.map((e) => e.documentId)).toEqual(["n0", "n1", "n2"]);
    expect(first.hasMore).toBe(true);
    expect(first.checkpoint.collections.todos ?? 0n).toBe(0n);
    const second = await c.readPage(["notes", "todos"], first.checkpoint, 3, undefined, false, filters);
    expect(second.changes.map((e) => e.documentId)).toEqual(["t0", "t1", "t2"]);
    expect(second.hasMore).toBe(false);
    expect(Object.keys(second.checkpoint.filters)).toEqual(["todos"]);
    await c.close();
  });

  it("asks for a resync when a purge took a state the reader's position needs", async () => {
    let clock = Date.now();
    const { core: c, write } = await core(() => clock);
    const d1 = await write("d", { list: "a" });
    const filters = c.compileFilters({ todos: listIs("a") }, ["todos"]);
    const held = await c.readPage(["todos"], undefined, 10, undefined, false, filters);
    await write("d", { list: "b" }, d1.revision);
    clock += 31 * 24 * 3600 * 1000;
    await c.purge();
    await expect(c.readPage(["todos"], held.checkpoint, 10, undefined, false, filters)).rejects.toMatchObject({ code: "failed_precondition" });
    await c.close();
  });
});
