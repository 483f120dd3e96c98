// How the core refuses a request, without knowing the transport: the serve
// layer turns a SyncFailure into a Connect error with the same code, reason
// and field details (docs/PROTOCOL.md §11).
import { ErrorReason } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";

/** gRPC status codes by name; the numbers are fixed by the gRPC spec. */
export const StatusCode = {
  invalid_argument: 3,
  permission_denied: 7,
  resource_exhausted: 8,
  failed_precondition: 9,
  unavailable: 14,
  unauthenticated: 16,
} as const;
export type StatusCodeName = keyof typeof StatusCode;

// Type-only: nothing of the transport reaches the core at run time.
import type { FieldProblem } from "../../../common/src/errors.js";

export type { FieldProblem };

export class SyncFailure extends Error {
  constructor(
    readonly code: StatusCodeName,
    readonly reason: ErrorReason,
    message: string,
    readonly fields: readonly FieldProblem[] = [],
    readonly metadata: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "SyncFailure";
  }
}

export { ErrorReason };
