// The command line's read rule (--owner-field): documents owned by a
// principal are read by it alone, on top of the token scopes.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ChangeEventSchema } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { ownerFieldAuthorize, ownerFieldProblem } from "./owner-field.js";

const doc = (document: object | null, collection = "todos") =>
  create(ChangeEventSchema, { collection, documentId: "d", document: document ? JSON.stringify(document) : "", deleted: document === null });

describe("--owner-field", () => {
  const rule = ownerFieldAuthorize("ownerId");
  const alice = { id: "alice" };
  const scoped = { id: "bob", collections: ["shared"] };

  it("lets only the owner read an owned document, and everyone in scope read the others", () => {
    expect(rule(alice, "read", "todos", doc({ ownerId: "alice" }))).toBe(true);
    expect(rule(alice, "read", "todos", doc({ ownerId: "bob" }))).toBe(false);
    expect(rule(alice, "read", "todos", doc({ title: "unowned" }))).toBe(true);
    // Only a string names an owner; tombstones carry no document.
    expect(rule(alice, "read", "todos", doc({ ownerId: ["alice"] }))).toBe(true);
    expect(rule(alice, "read", "todos", doc(null))).toBe(true);
    expect(rule(alice, "read", "todos")).toBe(true);
  });

  it("keeps the token scopes: outside them nothing is read or written, owned or not", () => {
    expect(rule(scoped, "read", "todos", doc({ ownerId: "bob" }, "todos"))).toBe(false);
    expect(rule(scoped, "read", "shared", doc({ ownerId: "bob" }, "shared"))).toBe(true);
    expect(rule(scoped, "write", "todos", doc({ ownerId: "bob" }, "todos"))).toBe(false);
    // A write is judged by the state it overwrites (the core reads it): giving a document away is allowed.
    expect(rule(alice, "write", "todos", doc({ ownerId: "bob" }))).toBe(true);
  });

  it("refuses a field that cannot be a document's key", () => {
    expect(ownerFieldProblem("")).toBeDefined();
    expect(ownerFieldProblem("_id")).toBeDefined();
    expect(ownerFieldProblem("ownerId")).toBeUndefined();
  });
});
