// Exponential backoff with jitter (PROTOCOL §9.6) and which errors to retry.
import { Code, ConnectError } from "@connectrpc/connect";
import { isReason } from "../../../common/src/index.js";
import { ErrorReason } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";

/**
 * The wait before retry number `attempt` (1-based): base * 2^(attempt-1),
 * capped at `max`, with "equal jitter": a uniformly random point in its upper half.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return exp / 2 + random() * (exp / 2);
}

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
