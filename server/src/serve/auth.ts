// Authentication: a bearer token becomes a Principal, or the call is refused
// (PROTOCOL §13). Two built-in schemes make the secure setup the easy one: a
// token file (token-file.ts: reloaded when it changes, so revoking is editing
// a line) and HMAC-signed tokens (hmac-token.ts: stateless, with expiry).
import { isDeepStrictEqual } from "node:util";
import type { Authorize, Principal } from "../core/sync-core.js";

/**
 * Returns the principal for a token, or undefined to refuse it. A plain
 * function is enough; the optional members let open Subscribe streams end as
 * soon as their token stops being valid (PROTOCOL §13.5).
 */
export interface Authenticate {
  (token: string): Principal | undefined | Promise<Principal | undefined>;
  /**
   * Whether `token`, accepted earlier as `principal`, would be accepted now as
   * the same principal. Runs before every message an open stream sends, so it
   * must be synchronous and cheap (no I/O): the built-in schemes answer from
   * memory. Without it, streams learn of a revocation only from the full
   * re-authentication they run once per heartbeat interval, and may deliver
   * changes committed in between.
   */
  isStillValid?(token: string, principal: Principal): boolean;
  /** Stops what the authenticator runs in the background (a file watcher). */
  close?(): void;
}

/** What the built-in schemes put in a principal, read by `scopeAuthorize`. */
export interface ScopedPrincipal extends Principal {
  /** Collections the principal may use; absent means all. */
  readonly collections?: readonly string[];
  readonly readOnly?: boolean;
}

/** Fixed tokens, for tests and embedding. */
export function staticTokenAuthenticator(tokens: Readonly<Record<string, ScopedPrincipal>>): Authenticate {
  const map = new Map(Object.entries(tokens));
  const authenticate: Authenticate = (token) => map.get(token);
  authenticate.isStillValid = (token, principal) => map.get(token) === principal;
  return authenticate;
}

/** Accepts a token any of `schemes` accepts, asking them in order. */
export function anyAuthenticator(...schemes: readonly Authenticate[]): Authenticate {
  const authenticate: Authenticate = async (token) => {
    for (const scheme of schemes) {
      const principal = await scheme(token);
      if (principal) return principal;
    }
    return undefined;
  };
  // A scheme that cannot tell leaves it to the periodic re-authentication.
  authenticate.isStillValid = (token, principal) => schemes.some((s) => (s.isStillValid ? s.isStillValid(token, principal) : true));
  authenticate.close = () => {
    for (const scheme of schemes) scheme.close?.();
  };
  return authenticate;
}

/** Same identity and same scopes: a stream may go on under the re-authenticated principal. */
export function samePrincipal(a: Principal, b: Principal): boolean {
  return a === b || isDeepStrictEqual(a, b);
}

/**
 * Authorization by the scopes the built-in schemes attach to a principal.
 * Fails closed on scopes of the wrong type (a custom authenticator's bug):
 * `collections` grants by exact membership in a real list, never by substring,
 * and any `readOnly` other than absent or false makes the principal read-only.
 */
export const scopeAuthorize: Authorize = (principal, action, collection) => {
  const { collections, readOnly } = principal as ScopedPrincipal;
  if (collections !== undefined && !(Array.isArray(collections) && collections.includes(collection))) return false;
  return !(action === "write" && readOnly !== undefined && readOnly !== false);
};

/** The token of an `authorization: Bearer <token>` header, if well-formed. */
export function bearerToken(header: string | null): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}
