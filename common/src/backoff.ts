// Exponential backoff with jitter (PROTOCOL §9.6), for clients retrying calls
// and for the server reconnecting to its database.

/**
 * The wait before retry number `attempt` (1-based): base * 2^(attempt-1),
 * capped at `max`, with "equal jitter": a uniformly random point in its upper half.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return exp / 2 + random() * (exp / 2);
}
