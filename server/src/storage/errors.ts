// How a storage says "not now": its backend cannot be reached or cannot serve
// the request at the moment (a connection refused or lost, a database
// restarting, a statement timeout). The same request may succeed if retried,
// so the core answers `unavailable` (retryable) instead of an internal error.

export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StorageUnavailableError";
  }
}

export function isStorageUnavailable(error: unknown): error is StorageUnavailableError {
  return error instanceof StorageUnavailableError;
}
