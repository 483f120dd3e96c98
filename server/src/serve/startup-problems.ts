// Why the server cannot start, in one line an operator can act on: the
// command line prints these instead of a stack trace.
import { accessSync, constants, mkdirSync, readFileSync } from "node:fs";

/** An error and its causes on one line: "a: b: c". */
export function explain(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof AggregateError && !e.message) parts.push(e.errors.map((x) => explain(x)).join("; "));
    else parts.push(e instanceof Error ? e.message || e.name : String(e));
  }
  return parts.join(": ");
}

const codeOf = (error: unknown) => (error as { code?: unknown } | null)?.code;

const FILE_PROBLEMS: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "is a directory, not a file",
  ENOTDIR: "a part of the path is not a directory",
  EEXIST: "exists and is not a directory",
  ELOOP: "too many symbolic links",
  EROFS: "read-only file system",
};

/** What went wrong with a path, without Node's "ENOENT: ..., open '/x'" noise. */
export function fileProblem(error: unknown): string {
  const code = codeOf(error);
  return (typeof code === "string" && FILE_PROBLEMS[code]) || explain(error);
}

/** Undefined if `path` is a readable file, else why not. */
export function unreadableFile(path: string): string | undefined {
  try {
    readFileSync(path);
    return undefined;
  } catch (error) {
    return fileProblem(error);
  }
}

/**
 * Undefined if `path` is (or could be created as) a directory this process
 * may read and write, else why not. Creates it, as the storage would.
 */
export function unusableDirectory(path: string): string | undefined {
  try {
    mkdirSync(path, { recursive: true });
    accessSync(path, constants.R_OK | constants.W_OK | constants.X_OK);
    return undefined;
  } catch (error) {
    return fileProblem(error);
  }
}

/** Why listening on host:port failed. */
export function listenProblem(error: unknown, host: string, port: number): string {
  switch (codeOf(error)) {
    case "EADDRINUSE":
      return `port ${port} on ${host} is already in use (another server?); stop it or choose another --port`;
    case "EACCES":
      return `no permission to listen on port ${port} of ${host} (ports below 1024 need privileges); choose another --port`;
    case "EADDRNOTAVAIL":
      return `cannot listen on ${host}: not an address of this machine (--host)`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot listen on ${host}: no such host (--host)`;
    default:
      return `cannot listen on ${host}:${port}: ${explain(error)}`;
  }
}
