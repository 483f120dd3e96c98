// The client refuses to create a document the server would reject for its
// nesting (PROTOCOL §3.4), with a clear error rather than a stack overflow,
// so it never reaches the outbox.
import { afterEach, describe, expect, it } from "vitest";
import { MAX_DOCUMENT_DEPTH } from "../../../common/src/index.js";
import { createDatabase, type Database } from "./database.js";

const open: Database[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((db) => db.close()));
});

/** { a: [[...]] } with `depth` levels, the top-level object included. */
function nested(depth: number): { a: unknown } {
  let inner: unknown[] = [];
  for (let level = 3; level <= depth; level++) inner = [inner];
  return { a: inner };
}

describe("document nesting on the client", () => {
  it("accepts the limit, refuses one level more and 200,000 levels, and queues nothing refused", async () => {
    const db = await createDatabase({ name: "depth", storage: "memory" });
    open.push(db);
    const todos = db.collection<{ a: unknown }>("todos");
    await todos.insert({ _id: "at-limit", ...nested(MAX_DOCUMENT_DEPTH) });
    for (const depth of [MAX_DOCUMENT_DEPTH + 1, 200_000]) {
      await expect(todos.insert({ _id: `deep-${depth}`, ...nested(depth) })).rejects.toThrow(`more than ${MAX_DOCUMENT_DEPTH} levels deep`);
      await expect(todos.update("at-limit", nested(depth))).rejects.toThrow(`more than ${MAX_DOCUMENT_DEPTH} levels deep`);
    }
    expect((await todos.get("at-limit"))?.a).toEqual(nested(MAX_DOCUMENT_DEPTH).a);
    expect(await db.syncStore.pendingChanges(["todos"], 10)).toHaveLength(1);
  });
});
