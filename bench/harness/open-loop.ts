// An open-loop schedule: call i starts at t0 + i × period on the shared clock
// whether or not earlier calls have finished, and its latency runs from that
// intended start. A closed loop (send, wait, send) would pause while the
// server is slow and leave out the very requests that would have waited:
// coordinated omission.
import { nowMs, sleepUntil } from "./clock.js";

export interface OpenLoopResult {
  /**
   * Per call: ms from its intended start to its end; NaN where it failed; for
   * a call still out at the deadline, the time waited (a lower bound).
   */
  readonly latencies: Float64Array;
  readonly failed: number;
  /** Calls still out at the deadline (aborted then). */
  readonly timedOut: number;
  readonly firstFailure?: string;
  /** The worst delay of a start behind its schedule (this process's own lag). */
  readonly lateStartMs: number;
}

export async function openLoop(
  t0: number,
  periodMs: number,
  count: number,
  call: (i: number, signal: AbortSignal) => Promise<void>,
  options: { readonly deadline?: number } = {},
): Promise<OpenLoopResult> {
  const latencies = new Float64Array(count).fill(Number.NaN);
  // At the deadline every call still out is aborted: a collapsing server
  // must not hold the run for as long as it takes to answer.
  const abort = new AbortController();
  const deadline = options.deadline;
  const timer = deadline === undefined ? undefined : setTimeout(() => abort.abort(), Math.max(0, deadline - nowMs()));
  let failed = 0;
  let timedOut = 0;
  let firstFailure: string | undefined;
  let lateStartMs = 0;
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const intended = t0 + i * periodMs;
    await sleepUntil(intended);
    lateStartMs = Math.max(lateStartMs, nowMs() - intended);
    inFlight.push(
      Promise.resolve()
        .then(() => call(i, abort.signal))
        .then(
          () => {
            latencies[i] = nowMs() - intended;
          },
          (error: unknown) => {
            if (abort.signal.aborted && deadline !== undefined) {
              timedOut++;
              latencies[i] = deadline - intended;
              return;
            }
            failed++;
            firstFailure ??= error instanceof Error ? error.message : String(error);
          },
        ),
    );
  }
  await Promise.all(inFlight);
  clearTimeout(timer);
  return { latencies, failed, timedOut, lateStartMs, ...(firstFailure ? { firstFailure } : {}) };
}

/**
 * Latencies of deliveries recorded per receiver × call (arrival times, NaN
 * for none), each from its call's intended start; and how many never came.
 * With `waitedUntil`, what never came counts at the time waited (a lower
 * bound), so that percentiles do not describe only the lucky deliveries.
 */
export function deliveryLatencies(
  arrivals: Float64Array,
  calls: number,
  t0: number,
  periodMs: number,
  waitedUntil?: number,
): { latencies: Float64Array; missing: number } {
  let missing = 0;
  for (const at of arrivals) if (Number.isNaN(at)) missing++;
  const latencies = new Float64Array(waitedUntil === undefined ? arrivals.length - missing : arrivals.length);
  let k = 0;
  for (let slot = 0; slot < arrivals.length; slot++) {
    const at = Number.isNaN(arrivals[slot]!) ? waitedUntil : arrivals[slot]!;
    if (at !== undefined) latencies[k++] = at - (t0 + (slot % calls) * periodMs);
  }
  return { latencies, missing };
}
