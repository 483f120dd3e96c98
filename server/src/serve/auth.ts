// Authentication: a bearer token becomes a Principal, or the call is refused
// (PROTOCOL §13). Two built-in schemes make the secure setup the easy one: a
// token file (re-read when it changes, so revoking is editing a line) and
// HMAC-signed tokens (stateless, with expiry).
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { Authorize, Principal } from "../core/sync-core.js";

/** Returns the principal for a token, or undefined to refuse it. */
export type Authenticate = (token: string) => Principal | undefined | Promise<Principal | undefined>;

/** What the built-in schemes put in a principal, read by `scopeAuthorize`. */
export interface ScopedPrincipal extends Principal {
  /** Collections the principal may use; absent means all. */
  readonly collections?: readonly string[];
  readonly readOnly?: boolean;
}

/**
 * Lines of `token principal [collections=a,b] [readonly]`; `#` starts a comment.
 * The file is re-read whenever its modification time changes.
 */
export function tokenFileAuthenticator(path: string): Authenticate {
  let loaded = "";
  let tokens = new Map<string, ScopedPrincipal>();
  const reload = () => {
    // Size too: two edits within one mtime tick must not go unnoticed.
    const { mtimeMs, size } = statSync(path);
    const version = `${mtimeMs}:${size}`;
    if (version === loaded) return;
    tokens = parseTokenFile(readFileSync(path, "utf8"), path);
    loaded = version;
  };
  reload();
  return (token) => {
    reload();
    return tokens.get(token);
  };
}

export function parseTokenFile(text: string, source = "token file"): Map<string, ScopedPrincipal> {
  const tokens = new Map<string, ScopedPrincipal>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    const [token, id, ...options] = line.split(/\s+/);
    if (!token || !id) throw new Error(`${source}:${i + 1}: expected "token principal [collections=a,b] [readonly]"`);
    let principal: ScopedPrincipal = { id };
    for (const option of options) {
      if (option === "readonly") principal = { ...principal, readOnly: true };
      else if (option.startsWith("collections=")) principal = { ...principal, collections: option.slice(12).split(",").filter(Boolean) };
      else throw new Error(`${source}:${i + 1}: unknown option "${option}"`);
    }
    tokens.set(token, principal);
  });
  return tokens;
}

export function staticTokenAuthenticator(tokens: Readonly<Record<string, ScopedPrincipal>>): Authenticate {
  const map = new Map(Object.entries(tokens));
  return (token) => map.get(token);
}

interface SignedClaims {
  sub: string;
  /** Expiry, seconds since the Unix epoch. */
  exp?: number;
  collections?: string[];
  readOnly?: boolean;
}

/** Issues a token for `hmacAuthenticator`: `v1.<claims>.<signature>`, base64url. */
export function signToken(secret: string, claims: SignedClaims): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  return `v1.${payload}.${createHmac("sha256", secret).update(payload).digest("base64url")}`;
}

export function hmacAuthenticator(secret: string, now: () => number = Date.now): Authenticate {
  if (secret.length < 16) throw new Error("the HMAC secret must be at least 16 characters");
  return (token) => {
    const [version, payload, signature] = token.split(".");
    if (version !== "v1" || !payload || !signature) return undefined;
    const expected = createHmac("sha256", secret).update(payload).digest();
    const given = Buffer.from(signature, "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let claims: SignedClaims;
    try {
      claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as SignedClaims;
    } catch {
      return undefined;
    }
    if (typeof claims.sub !== "string" || (claims.exp !== undefined && claims.exp * 1000 <= now())) return undefined;
    return { id: claims.sub, collections: claims.collections, readOnly: claims.readOnly };
  };
}

/** Authorization by the scopes the built-in schemes attach to a principal. */
export const scopeAuthorize: Authorize = (principal, action, collection) => {
  const scoped = principal as ScopedPrincipal;
  if (scoped.collections && !scoped.collections.includes(collection)) return false;
  return !(action === "write" && scoped.readOnly);
};

/** The token of an `authorization: Bearer <token>` header, if well-formed. */
export function bearerToken(header: string | null): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}
