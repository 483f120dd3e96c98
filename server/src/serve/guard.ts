// What every RPC checks before the core sees it, whatever carries it (the
// Connect router for Push and Pull, the streaming route for Subscribe): the
// bearer token (PROTOCOL §13.1) and the schema's validation rules (§11).
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { syncError } from "../../../common/src/errors.js";
import { ErrorReason, PullRequestSchema, PushRequestSchema, SubscribeRequestSchema } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { ANONYMOUS, type Principal } from "../core/sync-core.js";
import { bearerToken, samePrincipal, type Authenticate } from "./auth.js";
import { pullObeysSchema, pushObeysSchema, subscribeObeysSchema } from "./schema-precheck.js";
import { createRequestValidator } from "./request-validation.js";

export interface Guard {
  /** The principal of an `authorization` header, or `unauthenticated`. */
  principalOf(authorization: string | null): Promise<Principal>;
  /** Throws `invalid_argument` with field violations unless `message` obeys the schema's rules. */
  validate<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void;
  /**
   * Keeps an open stream to the credentials it was opened with (PROTOCOL
   * §13.5): `check` before every message, from memory; `recheck`, a full
   * authentication, once per heartbeat interval. Undefined without
   * authentication.
   */
  credentialsOf(authorization: string | null, principal: Principal): StreamCredentials | undefined;
}

export interface StreamCredentials {
  check(): void;
  recheck(): Promise<void>;
}

/** Direct checks of the schema's rules for the common case, a valid request. */
const PRECHECKS = new Map<DescMessage, (message: never) => boolean>([
  [PushRequestSchema, pushObeysSchema],
  [PullRequestSchema, pullObeysSchema],
  [SubscribeRequestSchema, subscribeObeysSchema],
]);

export function createGuard(authenticate: Authenticate | undefined): Guard {
  const checked = createRequestValidator();
  const revoked = () => syncError(Code.Unauthenticated, ErrorReason.UNAUTHENTICATED, "the bearer token was revoked, expired or changed");
  const guard: Guard = {
    async principalOf(authorization) {
      if (!authenticate) return ANONYMOUS;
      const token = bearerToken(authorization);
      const principal = token === undefined ? undefined : await authenticate(token);
      if (!principal) {
        const message = token === undefined ? 'missing "authorization: Bearer <token>" header' : "the bearer token is not valid";
        throw syncError(Code.Unauthenticated, ErrorReason.UNAUTHENTICATED, message);
      }
      return principal;
    },
    validate(schema, message) {
      // The common case, a valid request, without interpreting the rules.
      if (PRECHECKS.get(schema)?.(message as never)) return;
      checked(schema, message);
    },
    credentialsOf(authorization, principal) {
      if (!authenticate) return undefined;
      const token = bearerToken(authorization)!;
      return {
        check() {
          if (authenticate.isStillValid && !authenticate.isStillValid(token, principal)) throw revoked();
        },
        async recheck() {
          // Another principal, or other scopes, for the same token: the stream
          // was authorized for the old ones, so it ends and the client reconnects.
          if (!samePrincipal(await guard.principalOf(authorization), principal)) throw revoked();
        },
      };
    },
  };
  return guard;
}
