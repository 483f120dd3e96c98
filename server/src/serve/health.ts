// The standard grpc.health.v1 health check, so load balancers and
// orchestrators can probe the server with their usual tools.
import type { ConnectRouter } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus as Status, Health } from "../../../gen/ts/grpc/health/v1/health_pb.js";
import { SyncService } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";

export class HealthState {
  private serving = true;
  private readonly waiters = new Set<() => void>();

  get status(): Status {
    return this.serving ? Status.SERVING : Status.NOT_SERVING;
  }

  /** Marks the server as going away; watchers hear NOT_SERVING. */
  stopServing(): void {
    this.serving = false;
    for (const wake of this.waiters) wake();
  }

  changed(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
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
        let last = statusOf(request.service).status;
        yield { status: last };
        while (!context.signal.aborted && last === Status.SERVING) {
          await state.changed(context.signal);
          if (state.status !== last) yield { status: (last = state.status) };
        }
      },
    });
}
