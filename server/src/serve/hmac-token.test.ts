// HMAC tokens: one spelling per token, claims of the right types, or refused.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { scopeAuthorize } from "./auth.js";
import { hmacAuthenticator, parseClaims, signToken } from "./hmac-token.js";

const secret = "a-secret-of-at-least-16-chars";
const authenticate = hmacAuthenticator(secret);
const later = Math.floor(Date.now() / 1000) + 3600;

/** A token signed with the right secret over exactly `payload`, as only the secret's holder could make. */
function signed(payload: string, encodeSignature = (digest: Buffer) => digest.toString("base64url"), version = "v1") {
  return `${version}.${payload}.${encodeSignature(createHmac("sha256", secret).update(payload).digest())}`;
}
const json = (claims: unknown) => Buffer.from(JSON.stringify(claims)).toString("base64url");

/** The same bytes in base64url with different unused trailing bits: another spelling the lenient decoder accepts. */
function respell(text: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const last = alphabet.indexOf(text.at(-1)!);
  return text.slice(0, -1) + alphabet[last ^ 1];
}

describe("HMAC tokens", () => {
  it("accepts a token it signed, with its claims", () => {
    expect(authenticate(signToken(secret, { sub: "alice", exp: later, collections: ["todos", "shared"], readOnly: true }))).toEqual({
      id: "alice",
      collections: ["todos", "shared"],
      readOnly: true,
    });
    expect(authenticate(signToken(secret, { sub: "bob" }))).toEqual({ id: "bob" });
    expect(authenticate(signed(json({ sub: "carol", iat: 1 })))).toEqual({ id: "carol" }); // unknown claims are ignored
  });

  it("refuses a forged signature and a token signed with another secret", () => {
    const token = signToken(secret, { sub: "alice" });
    const [v, payload, signature] = token.split(".");
    expect(authenticate(`${v}.${json({ sub: "admin" })}.${signature}`)).toBeUndefined();
    expect(authenticate(`${v}.${payload}.${"A".repeat(43)}`)).toBeUndefined();
    expect(authenticate(signToken("another-secret-of-16-chars", { sub: "alice" }))).toBeUndefined();
  });

  // Each of these is signed with the right secret: only the spelling is wrong.
  // A length that leaves unused bits in the last character, so respell() has something to flip.
  const payload = [0, 1, 2, 3].map((n) => json({ sub: `alice${"x".repeat(n)}`, collections: ["todos"] })).find((p) => p.length % 4 !== 0)!;
  const spellings: Array<[string, string]> = [
    ["the standard alphabet in the signature", signed(payload, (d) => d.toString("base64").replace(/=+$/, ""))],
    ["a padded signature", signed(payload, (d) => d.toString("base64url") + "=")],
    ["the standard alphabet and padding in the signature", signed(payload, (d) => d.toString("base64"))],
    ["another spelling of the signature's bytes", signed(payload, (d) => respell(d.toString("base64url")))],
    ["a padded payload", signed(`${payload}==`)],
    ["the standard alphabet in the payload", signed(Buffer.from(JSON.stringify({ sub: "alice???>>>" })).toString("base64"))],
    ["another spelling of the payload's bytes", signed(respell(payload))],
    ["a fourth segment", `${signed(payload)}.x`],
    ["a signed fourth segment", signed(`${payload}.x`)],
    ["two segments", `v1.${payload}`],
    ["an unknown version", signed(payload, undefined, "v2")],
    ["an upper-case version", signed(payload, undefined, "V1")],
    ["no version", signed(payload, undefined, "")],
    ["surrounding space", ` ${signed(payload)}`],
    ["an empty token", ""],
  ];
  it.each(spellings)("refuses %s", (_what, token) => {
    expect(authenticate(token)).toBeUndefined();
  });

  it("checks that the respelled variants really decode to the same bytes (so the tests above test spelling)", () => {
    expect(Buffer.from(respell(payload), "base64url")).toEqual(Buffer.from(payload, "base64url"));
    const signature = signed(payload).split(".")[2]!;
    expect(Buffer.from(respell(signature), "base64url")).toEqual(Buffer.from(signature, "base64url"));
  });

  const badClaims: Array<[string, unknown]> = [
    ["no sub", { exp: later }],
    ["an empty sub", { sub: "" }],
    ["a numeric sub", { sub: 42 }],
    ["a sub with a NUL", { sub: "ali\u0000ce" }],
    ["a sub with a newline", { sub: "alice\nadmin" }],
    ["exp as a string", { sub: "a", exp: String(later) }],
    ["exp null", { sub: "a", exp: null }],
    ["collections as a string", { sub: "a", collections: "shared" }],
    ["collections with a number", { sub: "a", collections: ["todos", 1] }],
    ["collections with an invalid name", { sub: "a", collections: ["no spaces"] }],
    ["collections as an object", { sub: "a", collections: { 0: "todos" } }],
    ["readOnly as a string", { sub: "a", readOnly: "false" }],
    ["readOnly as a number", { sub: "a", readOnly: 0 }],
    ["an array", [{ sub: "a" }]],
    ["a string", "a"],
    ["null", null],
  ];
  it.each(badClaims)("refuses claims with %s", (_what, claims) => {
    expect(parseClaims(claims)).toBeUndefined();
    expect(authenticate(signed(json(claims)))).toBeUndefined();
    expect(() => signToken(secret, claims as never)).toThrow(/signToken/);
  });

  it("refuses payloads that are not JSON, and an exp that overflows to infinity", () => {
    expect(authenticate(signed(Buffer.from("{not json").toString("base64url")))).toBeUndefined();
    expect(authenticate(signed(Buffer.from('{"sub":"a","exp":1e400}').toString("base64url")))).toBeUndefined();
  });

  it("refuses an expired token, and stops calling it valid once it expires", () => {
    let now = 1_000_000_000_000;
    const clocked = hmacAuthenticator(secret, () => now);
    const token = signToken(secret, { sub: "alice", exp: now / 1000 + 60 });
    const principal = clocked(token) as { id: string };
    expect(principal.id).toBe("alice");
    expect(clocked.isStillValid!(token, principal)).toBe(true);
    now += 60_000;
    expect(clocked(token)).toBeUndefined();
    expect(clocked.isStillValid!(token, principal)).toBe(false);
  });

  it("needs a secret of at least 16 characters", () => {
    expect(() => hmacAuthenticator("short")).toThrow(/at least 16/);
  });

  it("never grants a collection by substring, even through a principal from a custom authenticator", () => {
    const fromString = { id: "x", collections: "shared" as unknown as string[] };
    expect(scopeAuthorize(fromString, "read", "a")).toBe(false);
    expect(scopeAuthorize(fromString, "read", "shared")).toBe(false);
    const scoped = { id: "x", collections: ["shared"] };
    expect(scopeAuthorize(scoped, "read", "a")).toBe(false);
    expect(scopeAuthorize(scoped, "read", "share")).toBe(false);
    expect(scopeAuthorize(scoped, "write", "shared")).toBe(true);
    expect(scopeAuthorize({ id: "x", readOnly: "false" as unknown as boolean }, "write", "a")).toBe(false);
    expect(scopeAuthorize({ id: "x", readOnly: false }, "write", "a")).toBe(true);
    expect(scopeAuthorize({ id: "x", readOnly: true }, "read", "a")).toBe(true);
  });
});
