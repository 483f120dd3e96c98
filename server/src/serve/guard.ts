// What every RPC checks before the core sees it, whatever carries it (the
// Connect router for Push and Pull, the streaming route for Subscribe): the
// bearer token (PROTOCOL §13.1) and the schema's validation rules (§11).
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import { Code, ConnectError } from "@connectrpc/connect";
import { syncError } from "../../../common/src/errors.js";
import { ErrorReason, PushRequestSchema } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { Principal } from "../core/sync-core.js";
import { bearerToken, type Authenticate } from "./auth.js";
import { invalidRequest } from "./errors.js";
import { pushObeysSchema } from "./push-precheck.js";

/** Without an authenticator, every call acts for this principal. */
export const ANONYMOUS: Principal = { id: "anonymous" };

export interface Guard {
  /** The principal of an `authorization` header, or `unauthenticated`. */
  principalOf(authorization: string | null): Promise<Principal>;
  /** Throws `invalid_argument` with field violations unless `message` obeys the schema's rules. */
  validate<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void;
}

export function createGuard(authenticate: Authenticate | undefined): Guard {
  const validator = createValidator();
  return {
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
      // The common case, a valid push, without interpreting the rules.
      if ((schema as DescMessage) === PushRequestSchema && pushObeysSchema(message as MessageShape<typeof PushRequestSchema>)) return;
      const result = validator.validate(schema, message);
      if (result.kind === "invalid") throw invalidRequest(result.violations);
      if (result.kind === "error") throw new ConnectError(`cannot validate request: ${result.error.message}`, Code.Internal);
    },
  };
}
