// The named checks of conformance/cases/server-filters.yaml (suite filters),
// beside it by name: what a filter selects (equality, in, AND; numbers by
// value, strings exactly), its digest in the checkpoint and the resync when
// it changes, the errors of a bad or unindexed filter, and that it never
// widens access (PROTOCOL §4.10–4.12). How moves in and out of a filter are
// delivered is server-filter-moves.ts's.
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { FilterSchema, type Checkpoint, type Filter } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { badRequest, checkPulled, checkRefusals, checkRefused, copyCheckpoint, Docs, filterOf, indexed, pullFiltered, subscribeFailure, text, twoCollections, unindexedField, type ReadRequest, type Refusal, type Written } from "../src/filter-check-helpers.js";
import { checkStreamResumable, Stream, type ServerCheck } from "../src/server-check-helpers.js";
import { check, CheckFailure, checkEqual, checkError, expectFailure, pullAll, pullResyncing, Skip, wireError } from "../src/wire.js";

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
  "in": inValues,
  and,
  "every-collection": everyCollection,
  "checkpoint-digest": checkpointDigest,
  "digest-carried-over": digestCarriedOver,
  "filter-changed": filterChanged,
  invalid,
  "schema-limits": schemaLimits,
  "not-indexed": notIndexed,
  "no-wider-access": noWiderAccess,
};
