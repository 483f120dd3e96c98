// Role: closed-loop HTTP/1.1 load: `concurrency` requests in flight on
// keep-alive connections, each sent as soon as the previous answer has been
// read in full, counting the answers completed inside the window. It reports
// throughput only (no latencies: a closed loop would hide queueing in them).
import http from "node:http";
import { nowMs, sleepUntil } from "../harness/clock.js";

export interface LoadPlan {
  readonly url: string;
  readonly body: string;
  readonly headers: Record<string, string>;
  readonly concurrency: number;
  /** Shared-clock start, so that several generator processes load together. */
  readonly startAt: number;
  readonly durationMs: number;
  /** Every answer must have exactly this many bytes. */
  readonly expectBytes: number;
}

export interface LoadResult {
  readonly completed: number;
  readonly failed: number;
  readonly firstFailure?: string;
}

function request(agent: http.Agent, url: URL, plan: LoadPlan): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: "POST", agent, headers: { ...plan.headers, "content-length": Buffer.byteLength(plan.body) } },
      (res) => {
        let bytes = 0;
        res.on("data", (chunk: Buffer) => (bytes += chunk.length));
        res.on("end", () => (res.statusCode === 200 ? resolve(bytes) : reject(new Error(`HTTP ${res.statusCode}`))));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(plan.body);
  });
}

export const handlers = {
  async run(plan: LoadPlan): Promise<LoadResult> {
    const url = new URL(plan.url);
    const agent = new http.Agent({ keepAlive: true, maxSockets: plan.concurrency });
    let completed = 0;
    let failed = 0;
    let firstFailure: string | undefined;
    await sleepUntil(plan.startAt);
    const end = plan.startAt + plan.durationMs;
    await Promise.all(
      Array.from({ length: plan.concurrency }, async () => {
        while (nowMs() < end) {
          try {
            const bytes = await request(agent, url, plan);
            if (bytes !== plan.expectBytes) throw new Error(`answer of ${bytes} bytes, expected ${plan.expectBytes}`);
            if (nowMs() <= end) completed++;
          } catch (error) {
            failed++;
            firstFailure ??= (error as Error).message;
          }
        }
      }),
    );
    agent.destroy();
    return { completed, failed, ...(firstFailure ? { firstFailure } : {}) };
  },
};
