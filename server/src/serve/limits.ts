// Defaults of the limits and timeouts that keep clients from exhausting the
// server (flags in cli.ts, documented in the README's "Limits and timeouts").
import { readFileSync } from "node:fs";

export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
/** Above the 60 s idle timeout of common load balancers, so they close first. */
export const DEFAULT_IDLE_TIMEOUT_MS = 65_000;
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
export const DEFAULT_MAX_DISCARD_BYTES = 64 * 1024 * 1024;
const MAX_CONNECTIONS_CAP = 10_000;

/**
 * Half the process's open-file limit, at most 10,000: connections must never
 * take the descriptors storage needs (a LevelDB that cannot open a table file
 * fails writes). 10,000 where the limit cannot be read.
 */
export function defaultMaxConnections(limitsFile = "/proc/self/limits"): number {
  try {
    const line = readFileSync(limitsFile, "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    if (Number.isInteger(soft) && soft > 0) return Math.max(1, Math.min(MAX_CONNECTIONS_CAP, Math.floor(soft / 2)));
  } catch {
    // Not Linux: no /proc.
  }
  return MAX_CONNECTIONS_CAP;
}
