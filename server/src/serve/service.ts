// pocket.sync.v1.SyncService over Connect: authenticate, validate the request
// against the schema's rules, then hand over to the core. Nothing here decides
// sync semantics.
import { Code, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { syncError } from "../../../common/src/errors.js";
import {
  ErrorReason,
  PullRequestSchema,
  PushRequestSchema,
  SubscribeRequestSchema,
  SyncService,
} from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { Principal, SyncCore } from "../core/sync-core.js";
import type { FanoutHub } from "../fanout/hub.js";
import { isBinaryCodec } from "../fanout/encode-once.js";
import { streamChanges } from "../fanout/stream.js";
import { bearerToken, type Authenticate } from "./auth.js";
import { toConnectError } from "./errors.js";
import { createRequestValidator } from "./request-validation.js";

export interface SyncServiceDeps {
  readonly core: SyncCore;
  readonly hub: FanoutHub;
  /** Absent: every call acts for the principal "anonymous". */
  readonly authenticate?: Authenticate;
  readonly defaultHeartbeatMs: number;
  readonly subscribePageSize: number;
}

const ANONYMOUS: Principal = { id: "anonymous" };
/** Servers cap heartbeats at 30 s (PROTOCOL §5.3); below 50 ms is a busy loop. */
const MAX_HEARTBEAT_MS = 30_000;
const MIN_HEARTBEAT_MS = 50;

export function syncServiceRoutes(deps: SyncServiceDeps) {
  const checked = createRequestValidator();

  async function principalOf(context: HandlerContext): Promise<Principal> {
    if (!deps.authenticate) return ANONYMOUS;
    const token = bearerToken(context.requestHeader.get("authorization"));
    const principal = token === undefined ? undefined : await deps.authenticate(token);
    if (!principal) {
      const message = token === undefined ? 'missing "authorization: Bearer <token>" header' : "the bearer token is not valid";
      throw syncError(Code.Unauthenticated, ErrorReason.UNAUTHENTICATED, message);
    }
    return principal;
  }

  return (router: ConnectRouter) =>
    router.service(SyncService, {
      async push(request, context) {
        try {
          const principal = await principalOf(context);
          checked(PushRequestSchema, request);
          return await deps.core.push(principal, request);
        } catch (error) {
          throw toConnectError(error);
        }
      },
      async pull(request, context) {
        try {
          const principal = await principalOf(context);
          checked(PullRequestSchema, request);
          return await deps.core.pull(principal, request);
        } catch (error) {
          throw toConnectError(error);
        }
      },
      async *subscribe(request, context) {
        try {
          const principal = await principalOf(context);
          checked(SubscribeRequestSchema, request);
          const asked = request.heartbeatIntervalMs || deps.defaultHeartbeatMs;
          yield* streamChanges(deps.core, deps.hub, principal, request, {
            binary: isBinaryCodec(context.requestHeader.get("content-type")),
            recheck: async () => {
              await principalOf(context);
            },
            heartbeatMs: Math.max(MIN_HEARTBEAT_MS, Math.min(asked, MAX_HEARTBEAT_MS, deps.defaultHeartbeatMs)),
            pageSize: deps.subscribePageSize,
            signal: context.signal,
          });
        } catch (error) {
          throw toConnectError(error);
        }
      },
    });
}
