// The named checks of conformance/cases/server-protocols.yaml (suite protocols), beside it by name.
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { PullRequestSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { accepted, pushOne, type ServerCheck, Stream } from "../src/server-check-helpers.js";
import { checkEqual, checkError, expectFailure, insert } from "../src/wire.js";

const protocolRoundTrip: ServerCheck = async (ctx, params) => {
  const protocol = String(params.protocol) as "connect-json";
  const httpVersion = String(params.httpVersion) as "1.1" | "2";
  ctx.require(`protocol:${protocol}`);
  if (httpVersion === "2") ctx.require("http2");
  const client = ctx.client({ protocol, httpVersion });
  const todos = ctx.collection("proto");
  const doc = '{"t":"é ☕ 🛒","n":9007199254740993}';
  const res = await client.push({ clientId: ctx.clientId(), changes: [insert(todos, ctx.doc("p"), doc, ctx.seq())] });
  accepted(res);
  const pulled = await client.pull({ collections: [todos] });
  checkEqual(ctx.mine(pulled.changes).map((c) => c.document), [doc], "push then pull over this protocol");
  checkEqual(pulled.changes[0]?.serverSequence, accepted(res).serverSequence, "uint64 server sequence round-trips");
  // Server streaming works.
  const stream = new Stream(client, [todos], { signal: ctx.signal });
  try {
    await stream.waitFor("caught_up on a stream over this protocol", () => stream.caughtUp());
    checkEqual(ctx.mine(stream.changes()).length, 1, "stream catch-up");
  } finally {
    await stream.close();
  }
  // Error details survive this protocol.
  const e = await expectFailure("an invalid pull", () => client.pull({ collections: ["1 bad"] }));
  checkError(e, { code: Code.InvalidArgument, reason: "ERROR_REASON_INVALID_ARGUMENT" }, "an error's ErrorInfo over this protocol");
};

const connectGet: ServerCheck = async (ctx) => {
  ctx.require("connect-get");
  const client = ctx.client({ protocol: "connect-json", httpVersion: "1.1", useHttpGet: true });
  const todos = ctx.collection("todos");
  await pushOne(ctx, insert(todos, ctx.doc("g"), { g: 1 }, ctx.seq()));
  const res = await client.pull({ collections: [todos] });
  checkEqual(ctx.mine(res.changes).length, 1, "pull as an HTTP GET (§2.2)");
  // Make sure it really went as GET: a raw GET request works too.
  const message = toBinary(PullRequestSchema, create(PullRequestSchema, { collections: [todos] }));
  const params = new URLSearchParams({ connect: "v1", encoding: "proto", base64: "1", message: Buffer.from(message).toString("base64url") });
  const auth: Record<string, string> = ctx.target.tokens.token ? { authorization: `Bearer ${ctx.target.tokens.token}` } : {};
  const raw = await fetch(`${ctx.target.url.replace(/\/$/, "")}/pocket.sync.v1.SyncService/Pull?${params}`, { headers: auth, signal: ctx.signal });
  checkEqual(raw.status, 200, "a raw Connect GET of Pull");
};

export const checks: Record<string, ServerCheck> = {
  "protocol-round-trip": protocolRoundTrip,
  "connect-get": connectGet,
};
