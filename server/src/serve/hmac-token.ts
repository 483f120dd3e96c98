// HMAC-signed bearer tokens: stateless, with expiry. Exactly one encoding is
// accepted, `v1.<claims>.<signature>` in unpadded base64url, so a token has a
// single spelling and the claims are checked for their types before anything
// reads them (a string `collections` must never grant by substring).
import { createHmac, timingSafeEqual } from "node:crypto";
import { COLLECTION_NAME } from "../../../common/src/names.js";
import type { Principal } from "../core/sync-core.js";
import type { Authenticate, ScopedPrincipal } from "./auth.js";

export interface SignedClaims {
  /** The principal's id; not empty, no control characters. */
  readonly sub: string;
  /** Expiry, seconds since the Unix epoch. */
  readonly exp?: number;
  /** Collections the principal may use (valid collection names); absent means all. */
  readonly collections?: readonly string[];
  readonly readOnly?: boolean;
}

// The signature is HMAC-SHA-256: 32 bytes, 43 characters of base64url.
const TOKEN = /^v1\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/;
const MIN_SECRET_LENGTH = 16;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The claims, if `value` is a claims object with every claim of its type; unknown claims are ignored. */
export function parseClaims(value: unknown): SignedClaims | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { sub, exp, collections, readOnly } = value as Record<string, unknown>;
  // Control characters would end up in logs, messages and storage keys.
  if (typeof sub !== "string" || sub === "" || CONTROL.test(sub)) return undefined;
  if (exp !== undefined && (typeof exp !== "number" || !Number.isFinite(exp))) return undefined;
  if (collections !== undefined && !(Array.isArray(collections) && collections.every((c) => typeof c === "string" && COLLECTION_NAME.test(c)))) {
    return undefined;
  }
  if (readOnly !== undefined && typeof readOnly !== "boolean") return undefined;
  return {
    sub,
    ...(exp !== undefined ? { exp } : {}),
    ...(collections !== undefined ? { collections: [...(collections as string[])] } : {}),
    ...(readOnly !== undefined ? { readOnly } : {}),
  };
}

const sign = (secret: string, payload: string) => createHmac("sha256", secret).update(payload).digest("base64url");

/** Issues a token for `hmacAuthenticator`; refuses claims it would not accept. */
export function signToken(secret: string, claims: SignedClaims): string {
  const checked = parseClaims(claims);
  if (!checked) throw new Error("signToken: sub must be a non-empty string without control characters, exp a finite number, collections a list of collection names, readOnly a boolean");
  const payload = Buffer.from(JSON.stringify(checked)).toString("base64url");
  return `v1.${payload}.${sign(secret, payload)}`;
}

export function hmacAuthenticator(secret: string, now: () => number = Date.now): Authenticate {
  if (secret.length < MIN_SECRET_LENGTH) throw new Error(`the HMAC secret must be at least ${MIN_SECRET_LENGTH} characters`);

  // When each principal this authenticator issued expires: its streams then
  // ask a number compare, not a signature check, before every message.
  const expiries = new WeakMap<Principal, number>();

  function verify(token: string): ScopedPrincipal | undefined {
    const match = TOKEN.exec(token);
    if (!match) return undefined;
    const [, payload, signature] = match as unknown as [string, string, string];
    // Comparing the text, not decoded bytes: base64url decoders accept other
    // spellings of the same bytes (trailing bits, padding), which would make
    // one token many.
    if (!timingSafeEqual(Buffer.from(sign(secret, payload)), Buffer.from(signature))) return undefined;
    const bytes = Buffer.from(payload, "base64url");
    if (bytes.toString("base64url") !== payload) return undefined;
    let claims: SignedClaims | undefined;
    try {
      claims = parseClaims(JSON.parse(bytes.toString("utf8")));
    } catch {
      return undefined;
    }
    const expiresAtMs = claims?.exp === undefined ? Infinity : claims.exp * 1000;
    if (!claims || expiresAtMs <= now()) return undefined;
    const principal: ScopedPrincipal = {
      id: claims.sub,
      ...(claims.collections ? { collections: claims.collections } : {}),
      ...(claims.readOnly !== undefined ? { readOnly: claims.readOnly } : {}),
    };
    expiries.set(principal, expiresAtMs);
    return principal;
  }

  const authenticate: Authenticate = (token) => verify(token);
  authenticate.isStillValid = (token, principal) => {
    const expiresAtMs = expiries.get(principal);
    // A principal this authenticator did not issue: verify the token in full.
    return expiresAtMs === undefined ? verify(token) !== undefined : expiresAtMs > now();
  };
  return authenticate;
}
