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

  it("cuts whole and filtered collections at one sequence, so pages stay in increasing sequence", async () => {
    const { core: c, write } = await core();
    const written: string[] = [];
    for (let i = 0; i < 4; i++) {
      await write(`n${i}`, { i }, "", "notes");
      await write(`t${i}`, { list: i % 2 === 0 ? "a" : "b", i });
      written.push(`n${i}`);
      if (i % 2 === 0) written.push(`t${i}`);
    }
    const filters = c.compileFilters({ todos: listIs("a") }, ["notes", "todos"]);
    const seen: string[] = [];
    let checkpoint;
    let last = 0n;
    for (let page = 0; page < 10; page++) {
      const read = await c.readPage(["notes", "todos"], checkpoint, 3, undefined, false, filters);
      for (const change of read.changes) {
        expect(change.serverSequence > last, `${change.documentId} after ${last}`).toBe(true);
        last = change.serverSequence;
        seen.push(change.documentId);
      }
      // Neither collection's position runs past what the page holds, nor lags behind it.
      expect(read.checkpoint.collections.notes).toBe(read.checkpoint.collections.todos);
      checkpoint = read.checkpoint;
      if (!read.hasMore) break;
    }
    expect(seen).toEqual(written);
    expect(Object.keys(checkpoint!.filters)).toEqual(["todos"]);
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
