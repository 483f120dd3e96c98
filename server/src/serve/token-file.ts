// The token file: lines of `token principal [collections=a,b] [readonly]`, `#`
// starting a comment. Read once at start (a malformed file refuses to start,
// naming file and line), then watched: revoking a token is deleting its line.
// Calls never touch the file; a reload that fails keeps the last good tokens
// and says so once, so a half-saved edit can neither lock everyone out nor
// fail calls.
import { readFileSync, statSync, watch, type FSWatcher, type Stats } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { COLLECTION_NAME } from "../../../common/src/names.js";
import type { Principal } from "../core/sync-core.js";
import { samePrincipal, type Authenticate, type ScopedPrincipal } from "./auth.js";

/** A token file that cannot be used; the message names the file and line. */
export class TokenFileError extends Error {
  override name = "TokenFileError";
}

const FORMAT = '"token principal [collections=a,b] [readonly]"';
// Tabs separate like spaces; other control characters have no place in a token or a principal id.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export function parseTokenFile(text: string, source = "token file"): Map<string, ScopedPrincipal> {
  const tokens = new Map<string, ScopedPrincipal>();
  const lineOf = new Map<string, number>();
  text.split("\n").forEach((raw, i) => {
    const at = `${source}:${i + 1}`;
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    const [token, id, ...options] = line.split(/\s+/) as [string, string | undefined, ...string[]];
    if (!id) throw new TokenFileError(`${at}: expected ${FORMAT}, got a token without a principal`);
    if (CONTROL.test(line)) throw new TokenFileError(`${at}: control characters are not allowed`);
    if (lineOf.has(token)) throw new TokenFileError(`${at}: this token is already on line ${lineOf.get(token)}`);
    let collections: string[] | undefined;
    let readOnly = false;
    for (const option of options) {
      if (option === "readonly") {
        if (readOnly) throw new TokenFileError(`${at}: "readonly" is given twice`);
        readOnly = true;
      } else if (option.startsWith("collections=")) {
        if (collections) throw new TokenFileError(`${at}: "collections=" is given twice`);
        collections = option.slice("collections=".length).split(",");
        const bad = collections.find((c) => !COLLECTION_NAME.test(c));
        if (bad !== undefined) {
          throw new TokenFileError(`${at}: "${bad}" is not a collection name (a letter, then letters, digits, _ or -; at most 64); list them as collections=a,b`);
        }
      } else {
        throw new TokenFileError(`${at}: unknown option "${option}"; expected ${FORMAT}`);
      }
    }
    tokens.set(token, { id, ...(collections ? { collections } : {}), ...(readOnly ? { readOnly } : {}) });
    lineOf.set(token, i + 1);
  });
  return tokens;
}

export interface TokenFileOptions {
  /** How often the file is checked besides the watcher (default 1000 ms): watchers miss changes on some file systems. */
  readonly pollMs?: number;
  /** Told once per distinct problem when a reload fails (default: console.error). */
  readonly onReloadError?: (message: string) => void;
}

export interface TokenFileAuthenticator extends Authenticate {
  /** Synchronous: answered from the tokens in memory. */
  (token: string): ScopedPrincipal | undefined;
  isStillValid(token: string, principal: Principal): boolean;
  /** Checks the file now and reloads it if it changed; the watcher and the poll call it. */
  reload(): Promise<void>;
  close(): void;
}

/** What identifies one state of the file: a replaced file has another inode, an edited one another size or time. */
const versionOf = (s: Stats) => `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;

/** Reads and checks `path` now; throws a TokenFileError when it cannot be used. */
export function tokenFileAuthenticator(path: string, options: TokenFileOptions = {}): TokenFileAuthenticator {
  const report = options.onReloadError ?? ((message: string) => console.error(`pocket-sync-server: ${message}`));
  let tokens: Map<string, ScopedPrincipal>;
  let seen: string;
  try {
    seen = versionOf(statSync(path));
    tokens = parseTokenFile(readFileSync(path, "utf8"), path);
  } catch (error) {
    if (error instanceof TokenFileError) throw error;
    throw new TokenFileError(`cannot read the token file ${path}: ${(error as Error).message}`);
  }
  let reported: string | undefined;

  const fail = (problem: string) => {
    const message = `${problem}; keeping the ${tokens.size} token(s) loaded before`;
    if (message !== reported) report(message);
    reported = message;
  };

  async function check(): Promise<void> {
    let version: string;
    let text: string;
    try {
      version = versionOf(await stat(path));
      if (version === seen) return;
      text = await readFile(path, "utf8");
    } catch (error) {
      // Missing or unreadable: keep the last good tokens. Deleting the file is
      // how some tools replace it; to revoke every token, empty it instead.
      seen = `unreadable:${(error as NodeJS.ErrnoException).code ?? ""}`;
      fail(`cannot read the token file ${path}: ${(error as Error).message}`);
      return;
    }
    seen = version;
    let next: Map<string, ScopedPrincipal>;
    try {
      next = parseTokenFile(text, path);
    } catch (error) {
      fail((error as Error).message);
      return;
    }
    // An unchanged line keeps its principal object: isStillValid compares by identity.
    for (const [token, principal] of next) {
      const before = tokens.get(token);
      if (before && samePrincipal(before, principal)) next.set(token, before);
    }
    tokens = next;
    reported = undefined;
  }

  let running: Promise<void> | undefined;
  let again = false;
  const reload = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await check();
      } while (again);
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  // The directory, not the file: editors and secret mounts replace the file,
  // which a watch on it would not follow.
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, () => void reload());
    watcher.on("error", () => watcher?.close()); // the poll carries on
  } catch {
    // no watcher on this file system: the poll alone
  }
  const poll = setInterval(() => void reload(), options.pollMs ?? 1000);
  poll.unref();

  const authenticate = ((token: string) => tokens.get(token)) as TokenFileAuthenticator;
  authenticate.isStillValid = (token, principal) => tokens.get(token) === principal;
  authenticate.reload = reload;
  authenticate.close = () => {
    clearInterval(poll);
    watcher?.close();
  };
  return authenticate;
}
