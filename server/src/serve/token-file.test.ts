// The token file: refused at start when malformed, watched afterwards, and a
// bad edit keeps the last good tokens (said once) rather than failing calls.
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, tempDir } from "./testing.js";
import { parseTokenFile, tokenFileAuthenticator, TokenFileError, type TokenFileAuthenticator } from "./token-file.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});
function file(text: string): string {
  const dir = tempDir();
  cleanups.push(dir.remove);
  const path = join(dir.path, "tokens");
  writeFileSync(path, text);
  return path;
}
function open(path: string, pollMs = 60_000): { auth: TokenFileAuthenticator; logged: string[] } {
  const logged: string[] = [];
  const auth = tokenFileAuthenticator(path, { pollMs, onReloadError: (m) => logged.push(m) });
  cleanups.push(() => auth.close());
  return { auth, logged };
}
/** A write the reload cannot miss even within one mtime tick: the size changes. */
const edit = (path: string, text: string) => writeFileSync(path, text);

describe("parsing", () => {
  it("reads tokens, principals, scopes and comments", () => {
    const tokens = parseTokenFile("# comment\n\nt1 alice\nt2 bob collections=shared,todos readonly  # trailing\r\nt3 carol readonly\n", "f");
    expect([...tokens]).toEqual([
      ["t1", { id: "alice" }],
      ["t2", { id: "bob", collections: ["shared", "todos"], readOnly: true }],
      ["t3", { id: "carol", readOnly: true }],
    ]);
  });

  it.each([
    ["a token without a principal", "ok alice\nlonely\n", "f:2:"],
    ["an unknown option", "t alice admin\n", 'f:1: unknown option "admin"'],
    ["an empty collection list", "\n\nt alice collections=\n", 'f:3: "" is not a collection name'],
    ["an invalid collection name", "t alice collections=todos,9lives\n", 'f:1: "9lives" is not a collection name'],
    ["a trailing comma", "t alice collections=todos,\n", 'f:1: "" is not a collection name'],
    ["a repeated token", "t alice\nu bob\nt carol\n", "f:3: this token is already on line 1"],
    ["a repeated option", "t alice readonly readonly\n", 'f:1: "readonly" is given twice'],
    ["two collection lists", "t alice collections=a collections=b\n", 'f:1: "collections=" is given twice'],
    ["a control character", "t\talice\nu bo\u0000b\n", "f:2: control characters are not allowed"],
  ])("refuses %s, naming file and line", (_what, text, message) => {
    expect(() => parseTokenFile(text, "f")).toThrow(TokenFileError);
    expect(() => parseTokenFile(text, "f")).toThrow(message);
  });
});

describe("the token file authenticator", () => {
  it("refuses to start on a malformed or missing file, naming it", () => {
    const bad = file("good alice\nbad bob collections=\n");
    expect(() => tokenFileAuthenticator(bad)).toThrow(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2: `));
    expect(() => tokenFileAuthenticator(join(bad, "..", "absent"))).toThrow(/cannot read the token file .*absent: ENOENT/);
  });

  it("applies an edit at its next reload: a removed line is refused and no longer valid; unchanged lines stay valid", async () => {
    const path = file("a alice\nb bob collections=shared\nc carol\n");
    const { auth } = open(path);
    const alice = auth("a")!;
    const bob = auth("b")!;
    const carol = auth("c")!;
    edit(path, "a alice\nb bob collections=shared,secret\n# carol revoked\n");
    await auth.reload();
    expect(auth("c")).toBeUndefined();
    expect(auth.isStillValid("c", carol)).toBe(false);
    // Bob's scopes changed: a stream opened with the old ones must end.
    expect(auth("b")).toEqual({ id: "bob", collections: ["shared", "secret"] });
    expect(auth.isStillValid("b", bob)).toBe(false);
    expect(auth.isStillValid("a", alice)).toBe(true);
    expect(auth("a")).toBe(alice);
  });

  it("keeps the last good tokens when an edit is malformed, says so once, and takes the next good edit", async () => {
    const path = file("a alice\nb bob\n");
    const { auth, logged } = open(path);
    edit(path, "a alice\nb\n");
    await auth.reload();
    edit(path, "a alice\nb \n"); // another state of the file, the same problem
    await auth.reload();
    await auth.reload();
    expect(auth("b")).toEqual({ id: "bob" });
    expect(logged).toEqual([`${path}:2: expected "token principal [collections=a,b] [readonly]", got a token without a principal; keeping the 2 token(s) loaded before`]);
    edit(path, "a alice\n");
    await auth.reload();
    expect(auth("b")).toBeUndefined();
    edit(path, "a alice\nb bob nonsense\n");
    await auth.reload();
    expect(logged).toHaveLength(2);
    expect(logged[1]).toContain(`${path}:2: unknown option "nonsense"`);
  });

  it("keeps the last good tokens while the file is missing or unreadable, says so once, and reloads when it is back", async () => {
    const path = file("a alice\n");
    const { auth, logged } = open(path);
    rmSync(path);
    await auth.reload();
    await auth.reload();
    expect(auth("a")).toEqual({ id: "alice" });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/cannot read the token file .*tokens: ENOENT.*keeping the 1 token\(s\)/);
    writeFileSync(path, "z zoe\n");
    await auth.reload();
    expect(auth("a")).toBeUndefined();
    expect(auth("z")).toEqual({ id: "zoe" });
  });

  it("never reads the file on a call: calls go on while it is gone", () => {
    const path = file("a alice\n");
    const { auth } = open(path);
    rmSync(path);
    for (let i = 0; i < 3; i++) expect(auth("a")).toEqual({ id: "alice" });
  });

  it("notices an edit by itself, through the watcher", async () => {
    const path = file("a alice\n");
    const { auth } = open(path); // the poll is a minute away: only the watcher can be this quick
    edit(path, "# alice revoked\n");
    await eventually(() => auth("a") === undefined, 2_000, "the watcher to reload");
  });

  it("notices a file replaced by a rename, as editors and secret mounts do", async () => {
    const path = file("a alice\n");
    const { auth } = open(path, 50);
    const next = `${path}.new`;
    writeFileSync(next, "b bob\n");
    renameSync(next, path);
    await eventually(() => auth("b") !== undefined, 2_000, "the replaced file to load");
    expect(auth("a")).toBeUndefined();
  });
});
