// Turns what the core and the validator say into Connect errors with the
// standard details (docs/PROTOCOL.md §11).
import { pathToString } from "@bufbuild/protobuf/reflect";
import type { Violation } from "@bufbuild/protovalidate";
import { Code, ConnectError } from "@connectrpc/connect";
import { syncError } from "../../../common/src/errors.js";
import { ErrorReason } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { SyncFailure, type StatusCodeName } from "../core/failures.js";

const CODES: Record<StatusCodeName, Code> = {
  invalid_argument: Code.InvalidArgument,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  unavailable: Code.Unavailable,
  unauthenticated: Code.Unauthenticated,
};

export function toConnectError(error: unknown): ConnectError {
  if (error instanceof SyncFailure) {
    return syncError(CODES[error.code], error.reason, error.message, { fields: error.fields, metadata: { ...error.metadata } });
  }
  return ConnectError.from(error);
}

export function invalidRequest(violations: readonly Violation[]): ConnectError {
  const fields = violations.map((v) => ({ field: pathToString(v.field), description: v.message }));
  const summary = fields.map((f) => `${f.field}: ${f.description}`).join("; ");
  return syncError(Code.InvalidArgument, ErrorReason.INVALID_ARGUMENT, `invalid request: ${summary}`, { fields });
}
