// Push and Pull over Connect: authenticate, validate the request against the
// schema's rules, then hand over to the core. Nothing here decides sync
// semantics. Subscribe has its own route (subscribe-route.ts): a live stream
// is written by the fan-out directly, not through Connect's per-message
// pipeline.
import type { ConnectRouter } from "@connectrpc/connect";
import { PullRequestSchema, PushRequestSchema, SyncService } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { SyncCore } from "../core/sync-core.js";
import { toConnectError } from "./errors.js";
import type { Guard } from "./guard.js";

export interface SyncServiceDeps {
  readonly core: SyncCore;
  readonly guard: Guard;
}

export function syncServiceRoutes({ core, guard }: SyncServiceDeps) {
  return (router: ConnectRouter) =>
    router
      .rpc(SyncService.method.push, async (request, context) => {
        try {
          const principal = await guard.principalOf(context.requestHeader.get("authorization"));
          guard.validate(PushRequestSchema, request);
          return await core.push(principal, request);
        } catch (error) {
          throw toConnectError(error);
        }
      })
      .rpc(SyncService.method.pull, async (request, context) => {
        try {
          const principal = await guard.principalOf(context.requestHeader.get("authorization"));
          guard.validate(PullRequestSchema, request);
          return await core.pull(principal, request);
        } catch (error) {
          throw toConnectError(error);
        }
      });
}
