// An open-loop schedule: call i starts at t0 + i × period on the shared clock
// whether or not earlier calls have finished, and its latency runs from that
// intended start. A closed loop (send, wait, send) would pause while the
// server is slow and leave out the very requests that would have waited:
// coordinated omission.
import { nowMs, sleepUntil } from "./clock.js";

export interface OpenLoopResult {
  /** Per call: ms from its intended start to its end; NaN where it failed. */
  readonly latencies: Float64Array;
  readonly failed: number;
  readonly firstFailure?: string;
  /** The worst delay of a start behind its schedule (this process's own lag). */
  readonly lateStartMs: number;
}

export async function openLoop(t0: number, periodMs: number, count: number, call: (i: number) => Promise<void>): Promise<OpenLoopResult> {
  const latencies = new Float64Array(count).fill(Number.NaN);
  let failed = 0;
  let firstFailure: string | undefined;
  let lateStartMs = 0;
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const intended = t0 + i * periodMs;
    await sleepUntil(intended);
    lateStartMs = Math.max(lateStartMs, nowMs() - intended);
    inFlight.push(
      Promise.resolve()
        .then(() => call(i))
        .then(
          () => {
            latencies[i] = nowMs() - intended;
          },
          (error: unknown) => {
            failed++;
            firstFailure ??= error instanceof Error ? error.message : String(error);
          },
        ),
    );
  }
  await Promise.all(inFlight);
  return { latencies, failed, lateStartMs, ...(firstFailure ? { firstFailure } : {}) };
}

/**
 * Latencies of deliveries recorded per receiver × call (arrival times, NaN
 * for none), each from its call's intended start; and how many never came.
 */
export function deliveryLatencies(arrivals: Float64Array, calls: number, t0: number, periodMs: number): { latencies: Float64Array; missing: number } {
  let missing = 0;
  for (const at of arrivals) if (Number.isNaN(at)) missing++;
  const latencies = new Float64Array(arrivals.length - missing);
  let k = 0;
  for (let slot = 0; slot < arrivals.length; slot++) {
    const at = arrivals[slot]!;
    if (!Number.isNaN(at)) latencies[k++] = at - (t0 + (slot % calls) * periodMs);
  }
  return { latencies, missing };
}
