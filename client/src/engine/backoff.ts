// Exponential backoff with jitter (PROTOCOL §9.6) and which errors to retry.
import { Code, ConnectError } from "@connectrpc/connect";
import { isReason } from "../../../common/src/index.js";
import { ErrorReason } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";

// Shared with the server, which reconnects to its database the same way.
export { backoffDelay } from "../../../common/src/backoff.js";

export type ErrorKind = "retry" | "resync" | "fatal";

/** How the engine reacts to a failed call. */
export function classifyError(error: unknown): ErrorKind {
  if (isReason(error, ErrorReason.RESYNC_REQUIRED)) return "resync";
  const { code } = ConnectError.from(error);
  switch (code) {
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.Internal:
    case Code.Unknown: // network failures surface as unknown through fetch
    case Code.Aborted:
    case Code.Canceled:
      return "retry";
    case Code.ResourceExhausted:
      return isReason(error, ErrorReason.TOO_LARGE) ? "fatal" : "retry";
    default:
      return "fatal";
  }
}
