// The checks a pushed change passes before it enters the commit pipeline
// (PROTOCOL §3, §11, §13.2): the write rule, size, JSON, clock skew and the
// server's validation hook. They run outside the pipeline, so slow user code
// does not hold up sequencing.
import { create } from "@bufbuild/protobuf";
import { createHash } from "node:crypto";
import { parseDocument } from "../../../common/src/documents.js";
import type { JsonObject } from "../../../common/src/json.js";
import { ChangeEventSchema, ChangeResultSchema, Operation, type ChangeEvent, type ChangeResult } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { ErrorReason, StatusCode, type FieldProblem, type StatusCodeName } from "./failures.js";
import type { Principal, SyncCoreOptions } from "./sync-core.js";

export type Prepared =
  | { kind: "rejected"; result: ChangeResult }
  | { kind: "ok"; change: ChangeEvent; document: JsonObject | null; fingerprint: string };

type PushCheckOptions = Pick<SyncCoreOptions, "authorize" | "validate"> & { readonly maxDocumentBytes: number; readonly maxClockSkewMs: number; readonly now: () => number };

export async function preparePushed(options: PushCheckOptions, principal: Principal, clientId: string, pushed: ChangeEvent, index: number): Promise<Prepared> {
  const field = (name: string) => `changes[${index}].${name}`;
  const reject = (code: StatusCodeName, reason: ErrorReason, message: string, fields: FieldProblem[] = []): Prepared => ({
    kind: "rejected",
    result: create(ChangeResultSchema, {
      clientSequence: pushed.clientSequence,
      outcome: {
        case: "rejected",
        value: { code: StatusCode[code], reason: `ERROR_REASON_${ErrorReason[reason]}`, message, fieldViolations: fields },
      },
    }),
  });
  const change = create(ChangeEventSchema, {
    operation: pushed.operation,
    collection: pushed.collection,
    documentId: pushed.documentId,
    document: pushed.operation === Operation.DELETE ? "" : pushed.document,
    baseRevision: pushed.baseRevision,
    clientId,
    clientSequence: pushed.clientSequence,
    timestamp: pushed.timestamp,
    deleted: pushed.operation === Operation.DELETE,
  });
  const where = `${change.collection}/${change.documentId}`;
  if (options.authorize && !(await options.authorize(principal, "write", change.collection, change))) {
    return { kind: "rejected", result: writeRefused(principal, change) };
  }
  let document: JsonObject | null = null;
  if (!change.deleted) {
    const size = Buffer.byteLength(change.document, "utf8"); // counts without copying
    if (size > options.maxDocumentBytes) {
      const message = `document is ${size} bytes; this server accepts at most ${options.maxDocumentBytes}`;
      return reject("resource_exhausted", ErrorReason.TOO_LARGE, message, [{ field: field("document"), description: message }]);
    }
    const parsed = parseDocument(change.document);
    if (!parsed.ok) {
      return reject("invalid_argument", ErrorReason.INVALID_DOCUMENT, `${where}: ${parsed.problem.message}`, [
        { field: field("document"), description: parsed.problem.message },
      ]);
    }
    document = parsed.value;
  }
  if (!change.timestamp) {
    // The schema requires it; embedders calling the core directly skip that check.
    return reject("invalid_argument", ErrorReason.INVALID_ARGUMENT, "timestamp is required", [{ field: field("timestamp"), description: "value is required" }]);
  }
  const aheadMs = Number(change.timestamp.wallTimeMs) - options.now();
  if (aheadMs > options.maxClockSkewMs) {
    const message = `timestamp is ${Math.round(aheadMs / 1000)} s ahead of the server's clock (at most ${options.maxClockSkewMs / 1000} s allowed)`;
    return reject("invalid_argument", ErrorReason.INVALID_ARGUMENT, message, [{ field: field("timestamp.wall_time_ms"), description: message }]);
  }
  if (options.validate) {
    let verdict: void | boolean | string;
    try {
      verdict = await options.validate({ change, document, principal });
    } catch (error) {
      verdict = error instanceof Error ? error.message : String(error);
    }
    if (verdict === false || typeof verdict === "string") {
      const message = typeof verdict === "string" && verdict ? verdict : `${where} was refused by the server's validation`;
      return reject("invalid_argument", ErrorReason.VALIDATION_FAILED, message, [{ field: field("document"), description: message }]);
    }
  }
  const fingerprint = createHash("sha256")
    .update(`${change.collection}\u0000${change.documentId}\u0000${change.operation}\u0000${change.document}`)
    .digest("base64url");
  return { kind: "ok", change, document, fingerprint };
}

/** The answer to a change the principal may not make, the same whatever the reason (PROTOCOL §13.2, §13.4). */
export function writeRefused(principal: Principal, change: ChangeEvent): ChangeResult {
  return create(ChangeResultSchema, {
    clientSequence: change.clientSequence,
    outcome: {
      case: "rejected",
      value: {
        code: StatusCode.permission_denied,
        reason: `ERROR_REASON_${ErrorReason[ErrorReason.PERMISSION_DENIED]}`,
        message: `${principal.id} may not write ${change.collection}/${change.documentId}`,
        fieldViolations: [],
      },
    },
  });
}
