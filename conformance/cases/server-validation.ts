// The named checks of conformance/cases/server-validation.yaml (suite validation), beside it by name.
import { create, fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import http from "node:http";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { ChangeEventSchema, HybridLogicalClockSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { accepted, pushOne, type ServerCheck } from "../src/server-check-helpers.js";
import type { ServerContext } from "../src/server-context.js";
import { check, checkEqual, checkError, ERROR_DOMAIN, expectFailure, type HttpVersion, insert, pullAll, Wire, wireError } from "../src/wire.js";

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

async function rawPost(ctx: ServerContext, path: string, contentType: string, body: Uint8Array | string, headers: Record<string, string> = {}, connect = true) {
  const auth: Record<string, string> = ctx.target.tokens.token ? { authorization: `Bearer ${ctx.target.tokens.token}` } : {};
  return fetch(`${ctx.target.url.replace(/\/$/, "")}/pocket.sync.v1.SyncService/${path}`, {
    method: "POST",
    headers: { "content-type": contentType, ...(connect ? { "connect-protocol-version": "1" } : {}), ...auth, ...headers },
    body: typeof body === "string" ? body : new Blob([new Uint8Array(body)]),
    signal: ctx.signal,
  });
}

/** The ErrorInfo reasons (of our domain) in a Connect JSON error body. */
function connectReasons(body: { details?: { type?: string; value?: string }[] }): string[] {
  return (body.details ?? [])
    .filter((d) => d.type === "google.rpc.ErrorInfo" && typeof d.value === "string")
    .map((d) => fromBinary(ErrorInfoSchema, Buffer.from(d.value!, "base64")))
    .filter((info) => info.domain === ERROR_DOMAIN)
    .map((info) => info.reason);
}

/**
 * A body no protocol can decode is the client's mistake: invalid_argument
 * with ERROR_REASON_INVALID_ARGUMENT (§11), never internal, which clients
 * retry forever (§9.6).
 */
const malformedBodies: ServerCheck = async (ctx) => {
  const gzip = { "content-encoding": "gzip" };
  const cases: [string, string, string, Uint8Array | string, Record<string, string>][] = [
    ["garbage protobuf", "Push", "application/proto", new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), {}],
    ["truncated protobuf", "Push", "application/proto", new Uint8Array([0x12, 0x40, 0x08]), {}],
    ["garbage protobuf (pull)", "Pull", "application/proto", new Uint8Array([0x0a, 0x05, 0x61]), {}],
    ["garbage JSON", "Push", "application/json", "{not json", {}],
    ["JSON of the wrong shape", "Push", "application/json", '{"changes":"nope"}', {}],
    ["garbage JSON (pull)", "Pull", "application/json", '{"collections":', {}],
    ["a body flagged gzip that is not", "Push", "application/proto", new Uint8Array([0x01, 0x02, 0x03, 0x04]), gzip],
  ];
  for (const [what, method, type, body, headers] of cases) {
    const res = await rawPost(ctx, method, type, body, headers);
    const json = (await res.json().catch(() => ({}))) as { code?: string; details?: { type?: string; value?: string }[] };
    check(res.status >= 400, `${what}: expected an error, got HTTP ${res.status}`);
    checkEqual(json.code, "invalid_argument", `${what}: the Connect error code (§11: a request that cannot be decoded)`);
    check(
      connectReasons(json).includes("ERROR_REASON_INVALID_ARGUMENT"),
      `${what}: expected an ErrorInfo with reason ERROR_REASON_INVALID_ARGUMENT (domain ${ERROR_DOMAIN}), got [${connectReasons(json).join(", ")}]`,
    );
  }
  if (ctx.features.protocols.includes("grpc-web")) {
    // A valid gRPC-Web envelope around bytes that are not a PushRequest.
    const garbage = new Uint8Array([0x00, 0x00, 0x00, 0x00, 0x07, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    const res = await rawPost(ctx, "Push", "application/grpc-web+proto", garbage, {}, false);
    const text = Buffer.from(await res.arrayBuffer()).toString("latin1");
    const status = res.headers.get("grpc-status") ?? /grpc-status:\s*(\d+)/i.exec(text)?.[1];
    checkEqual(status, String(Code.InvalidArgument), "gRPC-Web, a message that cannot be decoded: grpc-status (invalid_argument)");
    const details = /grpc-status-details-bin:\s*([A-Za-z0-9+/=_-]+)/i.exec(text)?.[1] ?? res.headers.get("grpc-status-details-bin") ?? "";
    check(Buffer.from(details, "base64").toString("latin1").includes("ERROR_REASON_INVALID_ARGUMENT"), "gRPC-Web: grpc-status-details-bin must carry an ErrorInfo with reason ERROR_REASON_INVALID_ARGUMENT");
  }
  const todos = ctx.collection("todos");
  checkEqual(ctx.mine((await pullAll(ctx.client(), [todos])).changes).length, 0, "nothing written by malformed requests");
  // And the server still answers.
  accepted(await pushOne(ctx, insert(todos, ctx.doc("after"), {}, ctx.seq())));
};

const unknownMethod: ServerCheck = async (ctx) => {
  const res = await rawPost(ctx, "Frobnicate", "application/json", "{}");
  check(res.status === 404 || res.status === 501, `an unknown method must fail with unimplemented (HTTP 404), got ${res.status}`);
};

/**
 * A push above the declared limit fails with resource_exhausted (§2.3), over
 * HTTP/1.1 and, where the server offers it, HTTP/2, each on a connection of
 * its own: a server that stops reading the body and closes the connection
 * leaves the client with a broken pipe it can only report as an internal
 * error, and that client would retry the same push forever (§9.6).
 */
const requestTooLarge: ServerCheck = async (ctx) => {
  ctx.require("max-request-bytes");
  const todos = ctx.collection("todos");
  const limit = ctx.features.maxRequestBytes!;
  const per = 1_000_000;
  const n = Math.min(500, Math.ceil((limit + 1_000_000) / per));
  const body = JSON.stringify({ pad: "x".repeat(per - 20) });
  const versions: HttpVersion[] = ctx.target.protocol === "grpc" ? ["2"] : ctx.features.http2 ? ["1.1", "2"] : ["1.1"];
  for (const httpVersion of versions) {
    const changes = Array.from({ length: n }, (_, i) => insert(todos, ctx.doc(`big${httpVersion}-${i}`), body, ctx.seq()));
    const wire = new Wire();
    try {
      const agent = new http.Agent({ keepAlive: false });
      const client = wire.client({ url: ctx.target.url, protocol: ctx.target.protocol, httpVersion, token: ctx.target.tokens.token, agent });
      const e = await expectFailure(`a push of ${n * per} bytes over HTTP/${httpVersion}`, () => client.push({ clientId: ctx.clientId(), changes }, { signal: ctx.signal }));
      checkError(e, { code: Code.ResourceExhausted }, `a request above the server's limit of ${limit} bytes over HTTP/${httpVersion} (§2.3)`);
    } finally {
      wire.close();
    }
  }
  // 8 MiB SHOULD be accepted (§2.3); at least a request well below the limit is.
  const small = Array.from({ length: 2 }, (_, i) => insert(todos, ctx.doc(`ok${i}`), body, ctx.seq()));
  const res = await ctx.client().push({ clientId: ctx.clientId(), changes: small });
  small.forEach((_, i) => accepted(res, i));
  checkEqual(ctx.mine((await pullAll(ctx.client(), [todos])).changes).map((c) => c.documentId).sort(), [ctx.doc("ok0"), ctx.doc("ok1")], "nothing of the refused pushes is written");
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
