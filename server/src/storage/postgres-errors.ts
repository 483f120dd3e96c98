// Which PostgreSQL and driver errors mean "the database is unavailable right
// now" (retry later) rather than "this request is wrong" or a bug. Only these
// become StorageUnavailableError; anything else keeps its identity, so a real
// defect is never disguised as a transient outage.
import { StorageUnavailableError } from "./errors.js";

/** SQLSTATEs of a database that is going away, coming back, overloaded or timing out. */
const UNAVAILABLE_STATES = new Set([
  "57P01", // admin_shutdown: pg_terminate_backend, or a fast shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now: starting up, shutting down, in recovery
  "57P05", // idle_session_timeout
  "57014", // query_canceled: statement_timeout
  "25P03", // idle_in_transaction_session_timeout
  "53000", // insufficient_resources
  "53100", // disk_full
  "53200", // out_of_memory
  "53300", // too_many_connections
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
  "58000", // system_error
  "58030", // io_error
]);

/** Node socket errors: the network path or the server is not there. */
const UNAVAILABLE_SOCKET_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** What node-postgres and pg-pool say when a connection dies or cannot be had. */
const UNAVAILABLE_DRIVER_MESSAGES = [
  "Connection terminated",
  "timeout exceeded when trying to connect",
  "timeout expired",
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
  "Cannot use a pool after calling end on the pool",
];

export function isUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof StorageUnavailableError) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") {
      // Class 08: connection exception (08000, 08003, 08006, 08001, 08004, ...).
      if (code.startsWith("08") || UNAVAILABLE_STATES.has(code) || UNAVAILABLE_SOCKET_ERRORS.has(code)) return true;
    }
    if (UNAVAILABLE_DRIVER_MESSAGES.some((m) => e.message.startsWith(m))) return true;
    if (e instanceof AggregateError && e.errors.some(isUnavailable)) return true;
  }
  return false;
}

/** `error` as a StorageUnavailableError when it means the database is unavailable; otherwise unchanged. */
export function classify(error: unknown): unknown {
  if (error instanceof StorageUnavailableError || !isUnavailable(error)) return error;
  const message = error instanceof Error ? error.message || (error as { code?: string }).code || error.name : String(error);
  return new StorageUnavailableError(`the PostgreSQL database is unavailable: ${message}`, { cause: error });
}
