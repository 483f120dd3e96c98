// Prometheus metrics on /metrics: RPC latency by method and code, plus the
// core's counters and the numbers of live subscribers and open connections,
// read at scrape time.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { SyncCore } from "../core/sync-core.js";
import type { FanoutHub } from "../fanout/hub.js";
import { asClientError } from "./decoding-errors.js";

export interface Metrics {
  readonly registry: Registry;
  /** Times the RPCs Connect serves. */
  readonly interceptor: Interceptor;
  /** Times a stream served outside Connect, to its first message or its error. */
  observeStream(method: string): (code: Code | "ok", startedAt: number) => void;
}

export function createMetrics(core: SyncCore, hub: FanoutHub, transport: { connections: () => number } = { connections: () => 0 }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "pocket_sync_" });
  const latency = new Histogram({
    name: "pocket_sync_rpc_duration_seconds",
    help: "Time to answer an RPC (to the first response message for streams)",
    labelNames: ["method", "code"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const fromCore = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  const c = core.counters;
  fromCore("pocket_sync_pushes_total", "Push calls", () => c.pushes);
  fromCore("pocket_sync_changes_accepted_total", "Pushed changes committed (as sent or resolved)", () => c.changesAccepted);
  fromCore("pocket_sync_changes_rejected_total", "Pushed changes rejected", () => c.changesRejected);
  fromCore("pocket_sync_idempotent_replays_total", "Pushed changes answered from an idempotency record", () => c.idempotentReplays);
  fromCore("pocket_sync_pulls_total", "Pull calls", () => c.pulls);
  fromCore("pocket_sync_changes_pulled_total", "Changes returned by Pull", () => c.changesPulled);
  new Counter({
    name: "pocket_sync_conflicts_total",
    help: "Conflicting pushed changes, by the strategy that handled them",
    labelNames: ["strategy"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [strategy, count] of c.conflicts) this.inc({ strategy }, count);
    },
  });
  new Gauge({
    name: "pocket_sync_subscribers",
    help: "Open Subscribe streams",
    registers: [registry],
    collect() {
      this.set(hub.size);
    },
  });
  new Gauge({
    name: "pocket_sync_storage_writable",
    help: "1 while pushes can be committed, 0 while the storage is unavailable (health then says NOT_SERVING)",
    registers: [registry],
    collect() {
      this.set(core.availability.writable ? 1 : 0);
    },
  });
  new Gauge({
    name: "pocket_sync_connections",
    help: "Open client connections, in any state (HTTP/1.1, HTTP/2 or not yet identified)",
    registers: [registry],
    collect() {
      this.set(transport.connections());
    },
  });
  new Gauge({
    name: "pocket_sync_server_sequence",
    help: "The highest committed server sequence",
    registers: [registry],
    collect() {
      this.set(Number(core.visibleSequence));
    },
  });

  const interceptor: Interceptor = (next) => async (request) => {
    const stop = latency.startTimer({ method: request.method.name });
    try {
      const response = await next(request);
      stop({ code: "ok" });
      return response;
    } catch (error) {
      // A streaming call's request is decoded inside this call; count it with
      // the code the client will get.
      asClientError(error);
      stop({ code: Code[ConnectError.from(error).code] ?? "unknown" });
      throw error;
    }
  };
  const observeStream = (method: string) => (code: Code | "ok", startedAt: number) => {
    latency.observe({ method, code: code === "ok" ? "ok" : (Code[code] ?? "unknown") }, (performance.now() - startedAt) / 1000);
  };
  return { registry, interceptor, observeStream };
}
