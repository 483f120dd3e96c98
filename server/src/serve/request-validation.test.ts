// Requests far over the schema's list limits, and validation that cannot
// evaluate, are refused as the client's mistake (invalid_argument naming the
// field), never as internal.
import { create } from "@bufbuild/protobuf";
import { CompilationError, RuntimeError, type Validator } from "@bufbuild/protovalidate";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorInfo, fieldViolations } from "../../../common/src/errors.js";
import { PullRequestSchema, PushRequestSchema } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createRequestValidator } from "./request-validation.js";
import { pushed, startServer, syncClient, type RunningServer } from "./testing.js";

async function refusal(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

function expectFieldRefused(error: ConnectError, field: string): void {
  expect(error.code, error.message).toBe(Code.InvalidArgument);
  expect(errorInfo(error)?.reason).toBe("ERROR_REASON_INVALID_ARGUMENT");
  expect(fieldViolations(error).map((v) => v.field)).toContain(field);
}

describe("list limits over the wire", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it("refuses pushes of thousands of changes with invalid_argument naming changes, and writes none", async () => {
    const client = syncClient(server.url);
    for (const count of [4_000, 10_000, 60_000]) {
      const changes = Array.from({ length: count }, (_, i) => pushed(`many-${count}-${i}`, { i }, i + 1));
      const error = await refusal(client.push({ clientId: "many", changes }));
      expectFieldRefused(error, "changes");
      expect(fieldViolations(error).find((v) => v.field === "changes")?.description).toMatch(/500/);
    }
    expect((await client.pull({ collections: ["todos"] })).changes).toEqual([]);
  });

  it("still reports the other violations among the first items", async () => {
    const changes = Array.from({ length: 5_000 }, (_, i) => pushed(i === 3 ? "bad id" : `d${i}`, { i }, i + 1));
    const error = await refusal(syncClient(server.url).push({ clientId: "many", changes }));
    expectFieldRefused(error, "changes");
    expect(fieldViolations(error).map((v) => v.field)).toContain("changes[3].document_id");
  });

  it("refuses pulls and subscriptions of huge collection lists, distinct or not", async () => {
    const client = syncClient(server.url);
    for (const collections of [
      Array.from({ length: 100_000 }, (_, i) => `c${i}`),
      Array.from({ length: 100_000 }, () => "todos"),
    ]) {
      expectFieldRefused(await refusal(client.pull({ collections })), "collections");
      const stream = client.subscribe({ collections });
      expectFieldRefused(await refusal((async () => { for await (const _ of stream) break; })()), "collections");
    }
  });
});

describe("validation that cannot evaluate", () => {
  const failingWith = (error: Error): Validator => ({
    validate: (_schema, message) => ({ kind: "error", message, error }) as never,
  });
  const request = create(PushRequestSchema, { clientId: "a", changes: [pushed("a", {}, 1)] });

  it("refuses the input when a rule fails to evaluate on it", () => {
    const check = createRequestValidator(failingWith(new RuntimeError("Maximum call stack size exceeded")));
    const error = ConnectError.from((() => { try { check(PushRequestSchema, request); } catch (e) { return e; } })());
    expect(error.code).toBe(Code.InvalidArgument);
    expect(errorInfo(error)?.reason).toBe("ERROR_REASON_INVALID_ARGUMENT");
  });

  it("is a server fault when the rules themselves do not compile", () => {
    const check = createRequestValidator(failingWith(new CompilationError("no such function")));
    expect(() => check(PullRequestSchema, create(PullRequestSchema, { collections: ["a"] }))).toThrow(
      expect.objectContaining({ code: Code.Internal }),
    );
  });
});
