// Data steps of server-mode cases (conformance/cases/*.yaml, `steps:`).
//
//   - push:                     # PushRequest, in a friendly shape
//       clientId: a             # logical name (made unique per case); "=x" is literal
//       changes:
//         - {op: insert, collection: todos, id: t1, document: {title: x}}
//         - {op: update, collection: todos, id: t1, document: "{...}", base: $rev:t1, seq: 7}
//     token: token2             # token (default) | token2 | none | unknown | "=Basic x"
//                               # | raw (the valid token without the Bearer scheme)
//     expect: {results: [accepted, conflict, resolved, {rejected: {code: 3, reason: ERROR_REASON_INVALID_DOCUMENT}}]}
//   - pull: {collections: [todos], limit: 10, checkpoint: $checkpoint}
//     expect: {changes: [{id: t1, document: {title: x}, deleted: false}], hasMore: false}
//   - subscribe: {collections: [todos]}   # reads the first message only
//     expect: {caughtUp: true}
//     expectError: {code: invalid_argument, reason: ERROR_REASON_INVALID_ARGUMENT, field: "changes[0].collection"}
//
// Collection names and document ids are logical: made unique to the case unless
// written "=literal". `$rev:ID` is the last revision the server gave ID in this
// case; `$checkpoint` is the checkpoint of the last pull. Documents given as
// YAML objects are sent as JSON text; strings are sent verbatim.
import { create } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";
import {
  ChangeEventSchema,
  CheckpointSchema,
  Operation,
  PullRequestSchema,
  PushRequestSchema,
  SubscribeRequestSchema,
  type Checkpoint,
  type PullResponse,
  type PushResponse,
} from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { ServerContext, TokenChoice } from "./server-context.js";
import { CheckFailure, check, checkError, checkEqual, nextTimestamp, parseCode, stringify, wireError } from "./wire.js";

type Obj = Record<string, unknown>;

interface State {
  revisions: Map<string, string>;
  checkpoint: Checkpoint | undefined;
  clientSequence: bigint;
}

function literal(value: unknown, map: (s: string) => string): string {
  if (typeof value !== "string") throw new Error(`expected a string, got ${stringify(value)}`);
  return value.startsWith("=") ? value.slice(1) : map(value);
}

function tokenChoice(value: unknown): TokenChoice {
  if (value === undefined) return "token";
  if (typeof value === "string" && value.startsWith("=")) return { authorization: value.slice(1) };
  if (value === "token" || value === "token2" || value === "none" || value === "unknown" || value === "raw") return value;
  throw new Error(`unknown token ${String(value)}`);
}

const OPS: Record<string, Operation> = {
  insert: Operation.INSERT,
  update: Operation.UPDATE,
  delete: Operation.DELETE,
  unspecified: Operation.UNSPECIFIED,
};

function expand(value: string, ctx: ServerContext): string {
  return value.replace(/\{\{(\w+)(?::(\d+))?\}\}/g, (_, fn: string, arg?: string) => {
    if (fn === "repeat") return "x".repeat(Number(arg));
    if (fn === "ns") return ctx.ns;
    throw new Error(`unknown template {{${fn}}}`);
  });
}

function documentText(value: unknown, ctx: ServerContext): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return expand(value, ctx);
  return JSON.stringify(value);
}

function resolveRef(value: unknown, ctx: ServerContext, state: State): string {
  if (value === undefined) return "";
  if (typeof value !== "string") throw new Error(`expected a string, got ${stringify(value)}`);
  if (value.startsWith("$rev:")) {
    const id = literal(value.slice(5), (s) => ctx.doc(s));
    const rev = state.revisions.get(id);
    if (rev === undefined) throw new Error(`no revision known for ${id}`);
    return rev;
  }
  return expand(value, ctx);
}

function buildChange(raw: Obj, ctx: ServerContext, state: State) {
  const op = OPS[String(raw.op ?? "insert")];
  if (op === undefined) throw new Error(`unknown op ${String(raw.op)}`);
  const timestamp =
    raw.timestamp === null
      ? undefined
      : raw.timestamp === "future"
        ? { wallTimeMs: BigInt(Date.now() + 48 * 3600_000), logical: 0 }
        : raw.timestamp !== undefined
          ? { wallTimeMs: BigInt(String((raw.timestamp as Obj).wallTimeMs)), logical: Number((raw.timestamp as Obj).logical ?? 0) }
          : nextTimestamp();
  return create(ChangeEventSchema, {
    operation: op,
    collection: expand(literal(raw.collection ?? "todos", (s) => ctx.collection(s)), ctx),
    documentId: expand(literal(raw.id, (s) => ctx.doc(s)), ctx),
    document: documentText(raw.document, ctx),
    baseRevision: resolveRef(raw.base, ctx, state),
    clientSequence: raw.seq !== undefined ? BigInt(String(raw.seq)) : ++state.clientSequence,
    ...(timestamp ? { timestamp } : {}),
  });
}

function collections(raw: unknown, ctx: ServerContext): string[] {
  return ((raw ?? ["todos"]) as unknown[]).map((c) => expand(literal(c, (s) => ctx.collection(s)), ctx));
}

function checkPushExpectation(res: PushResponse, expect: Obj, where: string): void {
  if (expect.results !== undefined) {
    const wanted = expect.results as unknown[];
    checkEqual(res.results.length, wanted.length, `${where}: number of results`);
    wanted.forEach((w, i) => {
      const r = res.results[i]!;
      const kind = typeof w === "string" ? w : Object.keys(w as Obj)[0]!;
      check(r.outcome.case === kind, `${where}: result ${i}: expected ${kind}, got ${r.outcome.case ?? "none"} ${stringify(r.outcome.value)}`);
      if (typeof w === "object" && w !== null && kind === "rejected" && r.outcome.case === "rejected") {
        const want = (w as Obj).rejected as Obj;
        if (want.code !== undefined) {
          const code = typeof want.code === "number" ? want.code : parseCode(String(want.code));
          checkEqual(r.outcome.value.code, code, `${where}: result ${i}: rejected code`);
        }
        if (want.reason !== undefined) checkEqual(r.outcome.value.reason, want.reason, `${where}: result ${i}: rejected reason`);
      }
      if (typeof w === "object" && w !== null && (kind === "conflict" || kind === "resolved")) {
        const want = (w as Obj)[kind] as Obj | null;
        const current = (r.outcome.value as { current?: { document: string; deleted: boolean } }).current;
        check(current !== undefined, `${where}: result ${i}: ${kind} without current`);
        if (want?.document !== undefined) checkEqual(JSON.parse(current.document) as unknown, want.document, `${where}: result ${i}: current.document`);
        if (want?.strategy !== undefined && r.outcome.case === "resolved") checkEqual(r.outcome.value.strategy, want.strategy, `${where}: result ${i}: strategy`);
      }
    });
  }
}

function checkPullExpectation(res: PullResponse, expect: Obj, ctx: ServerContext, where: string): void {
  if (expect.hasMore !== undefined) checkEqual(res.hasMore, expect.hasMore, `${where}: has_more`);
  if (expect.count !== undefined) checkEqual(ctx.mine(res.changes).length, expect.count, `${where}: number of changes`);
  if (expect.changes !== undefined) {
    const wanted = expect.changes as Obj[];
    const got = ctx.mine(res.changes);
    checkEqual(
      got.map((c) => c.documentId),
      wanted.map((w) => literal(w.id, (s) => ctx.doc(s))),
      `${where}: document ids in order`,
    );
    wanted.forEach((w, i) => {
      const c = got[i]!;
      if (w.document !== undefined) {
        if (typeof w.document === "string") checkEqual(c.document, expand(w.document, ctx), `${where}: ${c.documentId} document text`);
        else checkEqual(c.document === "" ? null : (JSON.parse(c.document) as unknown), w.document, `${where}: ${c.documentId} document`);
      }
      if (w.deleted !== undefined) checkEqual(c.deleted, w.deleted, `${where}: ${c.documentId} deleted`);
    });
  }
}

export async function runSteps(steps: readonly Obj[], ctx: ServerContext): Promise<void> {
  const state: State = { revisions: new Map(), checkpoint: undefined, clientSequence: 0n };
  for (const [index, step] of steps.entries()) {
    const where = `step ${index + 1}`;
    const client = ctx.client({ token: tokenChoice(step.token) });
    const expectError = step.expectError as Obj | undefined;
    let call: () => Promise<unknown>;
    let after: (res: unknown) => void;
    if (step.push !== undefined) {
      const p = step.push as Obj;
      const request = create(PushRequestSchema, {
        clientId: expand(literal(p.clientId ?? "a", (s) => ctx.clientId(s)), ctx),
        changes: ((p.changes ?? []) as Obj[]).map((c) => buildChange(c, ctx, state)),
      });
      if (p.repeat !== undefined) {
        // `repeat: N` sends N copies of the first change with distinct ids, for the limits.
        const first = request.changes[0]!;
        request.changes = Array.from({ length: Number(p.repeat) }, (_, i) =>
          create(ChangeEventSchema, { ...first, documentId: `${first.documentId}-${i}`, clientSequence: ++state.clientSequence }),
        );
      }
      call = () => client.push(request, { signal: ctx.signal });
      after = (res) => {
        const r = res as PushResponse;
        r.results.forEach((result, i) => {
          const change = request.changes[i];
          if (!change) return;
          if (result.outcome.case === "accepted") state.revisions.set(change.documentId, result.outcome.value.revision);
          else if (result.outcome.case === "resolved" || result.outcome.case === "conflict") {
            const current = result.outcome.value.current;
            if (current) state.revisions.set(change.documentId, current.revision);
          }
        });
        if (step.expect) checkPushExpectation(r, step.expect as Obj, where);
      };
    } else if (step.pull !== undefined) {
      const p = step.pull as Obj;
      const request = create(PullRequestSchema, {
        collections: collections(p.collections, ctx),
        limit: Number(p.limit ?? 0),
        ...(p.checkpoint === "$checkpoint" && state.checkpoint ? { checkpoint: state.checkpoint } : {}),
        ...(typeof p.checkpoint === "object" && p.checkpoint !== null ? { checkpoint: checkpointFrom(p.checkpoint as Obj, ctx) } : {}),
        ...(p.clientId !== undefined ? { clientId: expand(literal(p.clientId, (s) => ctx.clientId(s)), ctx) } : {}),
      });
      call = () => client.pull(request, { signal: ctx.signal });
      after = (res) => {
        const r = res as PullResponse;
        state.checkpoint = r.checkpoint;
        for (const c of r.changes) state.revisions.set(c.documentId, c.revision);
        if (step.expect) checkPullExpectation(r, step.expect as Obj, ctx, where);
      };
    } else if (step.subscribe !== undefined) {
      const s = step.subscribe as Obj;
      const request = create(SubscribeRequestSchema, {
        collections: collections(s.collections, ctx),
        heartbeatIntervalMs: Number(s.heartbeatIntervalMs ?? 0),
        ...(s.clientId !== undefined ? { clientId: expand(literal(s.clientId, (x) => ctx.clientId(x)), ctx) } : {}),
      });
      call = async () => {
        const controller = new AbortController();
        ctx.signal.addEventListener("abort", () => controller.abort());
        try {
          for await (const message of client.subscribe(request, { signal: controller.signal })) return message;
          throw new CheckFailure(`${where}: the stream ended without a message`);
        } finally {
          controller.abort();
        }
      };
      after = (res) => {
        const expect = step.expect as Obj | undefined;
        const m = res as { event: { case: string | undefined; value?: { caughtUp?: boolean } } };
        if (expect?.caughtUp !== undefined) {
          check(m.event.case === "changes", `${where}: expected a ChangeBatch first, got ${m.event.case ?? "nothing"}`);
          checkEqual(m.event.value?.caughtUp, expect.caughtUp, `${where}: caught_up`);
        }
      };
    } else {
      throw new Error(`${where}: unknown step ${Object.keys(step).join(", ")}`);
    }

    if (expectError) {
      let failed = false;
      try {
        await call();
      } catch (error) {
        failed = true;
        if (error instanceof CheckFailure) throw error;
        const e = wireError(error);
        const codes = (Array.isArray(expectError.code) ? expectError.code : [expectError.code]).map((c) => parseCode(String(c))) as Code[];
        checkError(
          e,
          {
            code: codes,
            ...(expectError.reason !== undefined ? { reason: expectError.reason as string | string[] } : {}),
            ...(expectError.field !== undefined ? { field: String(expectError.field) } : {}),
          },
          where,
        );
      }
      if (!failed) throw new CheckFailure(`${where}: expected ${stringify(expectError.code)}, the call succeeded`);
    } else {
      after(await call());
    }
  }
}

function checkpointFrom(raw: Obj, ctx: ServerContext): Checkpoint {
  const cols: Record<string, bigint> = {};
  for (const [k, v] of Object.entries((raw.collections ?? {}) as Obj)) cols[literal(k, (s) => ctx.collection(s))] = BigInt(String(v));
  return create(CheckpointSchema, {
    serverSequence: BigInt(String(raw.serverSequence ?? 0)),
    collections: cols,
    epoch: String(raw.epoch ?? ""),
  });
}
