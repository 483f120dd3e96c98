// Composing authenticators and reading the bearer header.
import { describe, expect, it } from "vitest";
import { anyAuthenticator, bearerToken, samePrincipal, staticTokenAuthenticator, type Authenticate } from "./auth.js";
import { hmacAuthenticator, signToken } from "./hmac-token.js";

describe("anyAuthenticator", () => {
  const secret = "a-secret-of-at-least-16-chars";
  const fixed = staticTokenAuthenticator({ "file-token": { id: "alice" } });

  it("accepts what any scheme accepts, and asks each scheme about its own tokens' validity", async () => {
    const both = anyAuthenticator(fixed, hmacAuthenticator(secret));
    const signed = signToken(secret, { sub: "bob" });
    const alice = (await both("file-token"))!;
    const bob = (await both(signed))!;
    expect([alice.id, bob.id]).toEqual(["alice", "bob"]);
    expect(await both("nope")).toBeUndefined();
    expect(both.isStillValid!("file-token", alice)).toBe(true);
    expect(both.isStillValid!(signed, bob)).toBe(true);
    expect(both.isStillValid!("nope", alice)).toBe(false);
  });

  it("leaves validity to re-authentication when a scheme cannot tell", () => {
    const custom: Authenticate = (token) => (token === "x" ? { id: "x" } : undefined);
    expect(anyAuthenticator(fixed, custom).isStillValid!("revoked?", { id: "x" })).toBe(true);
  });

  it("closes every scheme", () => {
    let closed = 0;
    const closable: Authenticate = Object.assign(() => undefined, { close: () => void closed++ });
    anyAuthenticator(closable, fixed, closable).close!();
    expect(closed).toBe(2);
  });
});

describe("bearerToken", () => {
  it("takes the token of a Bearer header only", () => {
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer  abc ")).toBe("abc");
    expect(bearerToken("abc")).toBeUndefined(); // a raw token without the scheme
    expect(bearerToken("Basic abc")).toBeUndefined();
    expect(bearerToken("Bearer a b")).toBeUndefined();
    expect(bearerToken("Bearer")).toBeUndefined();
    expect(bearerToken(null)).toBeUndefined();
  });
});

describe("samePrincipal", () => {
  it("compares identity and scopes", () => {
    expect(samePrincipal({ id: "a", collections: ["x"] }, { id: "a", collections: ["x"] })).toBe(true);
    expect(samePrincipal({ id: "a", collections: ["x"] }, { id: "a", collections: ["x", "y"] })).toBe(false);
    expect(samePrincipal({ id: "a" }, { id: "b" })).toBe(false);
  });
});
