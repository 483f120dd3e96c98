// The standard grpc.health.v1 health check, so load balancers and
// orchestrators can probe the server with their usual tools. SERVING while
// the server can take writes; NOT_SERVING while its storage is unavailable
// (and SERVING again once it recovers) and for good once it shuts down.
import type { ConnectRouter } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus as Status, Health } from "../../../gen/ts/grpc/health/v1/health_pb.js";
import { SyncService } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { Availability } from "../core/storage-link.js";
import type { SyncCore } from "../core/sync-core.js";

interface Log {
  info(message: string): void;
  warn(message: string): void;
}

export class HealthState {
  private writable: boolean;
  private stopped = false;
  private readonly watchers = new Set<(status: Status) => void>();

  constructor(writable = true) {
    this.writable = writable;
  }

  get status(): Status {
    return this.writable && !this.stopped ? Status.SERVING : Status.NOT_SERVING;
  }

  /** True once the server is going away: no status change follows. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Whether the server can take writes now (its storage is available). */
  setWritable(writable: boolean): void {
    this.update(() => {
      this.writable = writable;
    });
  }

  /** Marks the server as going away; watchers hear NOT_SERVING. */
  stopServing(): void {
    this.update(() => {
      this.stopped = true;
    });
  }

  /**
   * Hears every status change, in order: a watcher that is slow to look
   * still sees a short NOT_SERVING between two SERVING.
   */
  watch(listener: (status: Status) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  private update(change: () => void): void {
    const before = this.status;
    change();
    const after = this.status;
    if (after !== before) for (const watcher of this.watchers) watcher(after);
  }
}

const KNOWN = new Set(["", SyncService.typeName]);

export function healthRoutes(state: HealthState) {
  const statusOf = (service: string) => {
    if (!KNOWN.has(service)) throw new ConnectError(`unknown service "${service}"`, Code.NotFound);
    return { status: state.status };
  };
  return (router: ConnectRouter) =>
    router.service(Health, {
      check: (request) => statusOf(request.service),
      async *watch(request, context) {
        const pending: Status[] = [];
        let wake: (() => void) | undefined;
        const unwatch = state.watch((status) => {
          pending.push(status);
          wake?.();
        });
        const onAbort = () => wake?.();
        context.signal.addEventListener("abort", onAbort);
        try {
          let last = statusOf(request.service).status;
          yield { status: last };
          while (!context.signal.aborted) {
            if (pending.length === 0) {
              // Shut down and told so: the stream ends cleanly.
              if (state.isStopped) return;
              await new Promise<void>((resolve) => {
                wake = resolve;
              });
              wake = undefined;
              continue;
            }
            const next = pending.shift()!;
            if (next !== last) yield { status: (last = next) };
          }
        } finally {
          unwatch();
          context.signal.removeEventListener("abort", onAbort);
        }
      },
    });
}

/**
 * Health follows whether the core can write, and the log says each change in
 * one line: every failed attempt to reach the storage (with the wait before
 * the next), and the recovery.
 */
export function followAvailability(core: SyncCore, health: HealthState, log: Log): () => void {
  let wasWritable = core.availability.writable;
  const report = (availability: Availability) => {
    health.setWritable(availability.writable);
    if (availability.writable) {
      if (!wasWritable) log.info("storage available: taking writes again");
    } else {
      const retry = availability.retryInMs === undefined ? "" : `; retrying in ${(availability.retryInMs / 1000).toFixed(1)} s`;
      log.warn(`storage unavailable, refusing writes: ${availability.reason ?? "unknown reason"}${retry}`);
    }
    wasWritable = availability.writable;
  };
  if (!wasWritable) report(core.availability);
  return core.onAvailability(report);
}
