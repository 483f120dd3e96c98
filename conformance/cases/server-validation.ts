// The named checks of conformance/cases/server-validation.yaml (suite validation), beside it by name.
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import http from "node:http";
import { ChangeEventSchema, HybridLogicalClockSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { accepted, pushOne, type ServerCheck } from "../src/server-check-helpers.js";
import type { ServerContext } from "../src/server-context.js";
import { check, checkEqual, checkError, expectFailure, insert, pullAll, wireError } from "../src/wire.js";

const invalidDocuments: ServerCheck = async (ctx) => {
  const todos = ctx.collection("todos");
  const bad = ["not json", "[1,2]", '"text"', "42", "null", '{"a":1', '{"_id":"x","a":1}', '{"_rev":"1-a"}', '{"_deleted":true}'];
  const changes = [
    ...bad.map((d, i) => insert(todos, ctx.doc(`bad${i}`), d, ctx.seq())),
    insert(todos, ctx.doc("good"), { ok: true }, ctx.seq()),
  ];
  const res = await ctx.client().push({ clientId: ctx.clientId(), changes });
  checkEqual(res.results.length, changes.length, "one result per change");
  bad.forEach((d, i) => {
    const r = res.results[i]!;
    check(r.outcome.case === "rejected", `document ${JSON.stringify(d)} must be rejected (§3.2, §3.3), got ${r.outcome.case}`);
    checkEqual(r.outcome.value.code, Code.InvalidArgument, `document ${JSON.stringify(d)}: rejected.code`);
    checkEqual(r.outcome.value.reason, "ERROR_REASON_INVALID_DOCUMENT", `document ${JSON.stringify(d)}: rejected.reason`);
  });
  accepted(res, bad.length);
  checkEqual(ctx.mine((await pullAll(ctx.client(), [todos])).changes).map((c) => c.documentId), [ctx.doc("good")], "only the valid change is written (§11)");
};

async function rawPost(ctx: ServerContext, path: string, contentType: string, body: Uint8Array | string, headers: Record<string, string> = {}) {
  const auth: Record<string, string> = ctx.target.tokens.token ? { authorization: `Bearer ${ctx.target.tokens.token}` } : {};
  return fetch(`${ctx.target.url.replace(/\/$/, "")}/pocket.sync.v1.SyncService/${path}`, {
    method: "POST",
    headers: { "content-type": contentType, "connect-protocol-version": "1", ...auth, ...headers },
    body: typeof body === "string" ? body : new Blob([new Uint8Array(body)]),
    signal: ctx.signal,
  });
}

const malformedBodies: ServerCheck = async (ctx) => {
  const cases: [string, string, Uint8Array | string][] = [
    ["garbage protobuf", "application/proto", new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])],
    ["truncated protobuf", "application/proto", new Uint8Array([0x12, 0x40, 0x08])],
    ["garbage JSON", "application/json", "{not json"],
    ["JSON of the wrong shape", "application/json", '{"changes":"nope"}'],
  ];
  for (const [what, type, body] of cases) {
    const res = await rawPost(ctx, "Push", type, body);
    const json = (await res.json().catch(() => ({}))) as { code?: string };
    // The Connect protocol answers a body it cannot decode with an error; the
    // code is invalid_argument where the implementation maps decoding errors,
    // and some Connect libraries (connect-es) answer internal.
    check(res.status >= 400, `${what}: expected an error, got HTTP ${res.status}`);
    check(json.code === "invalid_argument" || json.code === "internal", `${what}: expected Connect error code invalid_argument, got ${json.code ?? `HTTP ${res.status}`}`);
  }
  const todos = ctx.collection("todos");
  checkEqual(ctx.mine((await pullAll(ctx.client(), [todos])).changes).length, 0, "nothing written by malformed requests");
  // And the server still answers.
  await pushOne(ctx, insert(todos, ctx.doc("after"), {}, ctx.seq()));
};

const unknownMethod: ServerCheck = async (ctx) => {
  const res = await rawPost(ctx, "Frobnicate", "application/json", "{}");
  check(res.status === 404 || res.status === 501, `an unknown method must fail with unimplemented (HTTP 404), got ${res.status}`);
};

const requestTooLarge: ServerCheck = async (ctx) => {
  ctx.require("max-request-bytes");
  const todos = ctx.collection("todos");
  const limit = ctx.features.maxRequestBytes!;
  const per = 1_000_000;
  const n = Math.min(500, Math.ceil((limit + 1_000_000) / per));
  const body = JSON.stringify({ pad: "x".repeat(per - 20) });
  const changes = Array.from({ length: n }, (_, i) => insert(todos, ctx.doc(`big${i}`), body, ctx.seq()));
  // Its own connection: a server may close it after refusing the body unread.
  const agent = new http.Agent({ keepAlive: false });
  const client = ctx.wire.client({ url: ctx.target.url, protocol: ctx.target.protocol, httpVersion: ctx.target.httpVersion, token: ctx.target.tokens.token, agent });
  const e = await expectFailure(`a push of ${n * per} bytes`, () => client.push({ clientId: ctx.clientId(), changes }));
  checkError(e, { code: Code.ResourceExhausted }, `a request above the server's limit of ${limit} bytes (§2.3)`);
  // 8 MiB SHOULD be accepted (§2.3); at least a request well below the limit is.
  const small = Array.from({ length: 2 }, (_, i) => insert(todos, ctx.doc(`ok${i}`), body, ctx.seq()));
  const res = await ctx.client().push({ clientId: ctx.clientId(), changes: small });
  small.forEach((_, i) => accepted(res, i));
};

const futureTimestamp: ServerCheck = async (ctx) => {
  ctx.require("future-timestamp-refusal");
  const todos = ctx.collection("todos");
  const change = create(ChangeEventSchema, { ...insert(todos, ctx.doc("f"), {}, ctx.seq()), timestamp: create(HybridLogicalClockSchema, { wallTimeMs: BigInt(Date.now() + 48 * 3600_000), logical: 0 }) });
  let refused = false;
  try {
    const res = await pushOne(ctx, change);
    const r = res.results[0]!;
    refused = r.outcome.case === "rejected" && r.outcome.value.code === Code.InvalidArgument;
  } catch (error) {
    refused = wireError(error).code === Code.InvalidArgument;
  }
  check(refused, "a timestamp 48 hours ahead must be refused with invalid_argument (§10.3)");
};

export const checks: Record<string, ServerCheck> = {
  "invalid-documents": invalidDocuments,
  "malformed-bodies": malformedBodies,
  "unknown-method": unknownMethod,
  "request-too-large": requestTooLarge,
  "future-timestamp": futureTimestamp,
};
