// @pocket-sync/server: the reference Pocket Sync server, as a library.
export { createSyncServer, type SyncServer, type SyncServerOptions } from "./serve/server.js";
export {
  anyAuthenticator,
  bearerToken,
  scopeAuthorize,
  staticTokenAuthenticator,
  type Authenticate,
  type ScopedPrincipal,
} from "./serve/auth.js";
export { hmacAuthenticator, signToken, type SignedClaims } from "./serve/hmac-token.js";
export {
  parseTokenFile,
  tokenFileAuthenticator,
  TokenFileError,
  type TokenFileAuthenticator,
  type TokenFileOptions,
} from "./serve/token-file.js";
export { SyncCore, DEFAULTS, ANONYMOUS, type Action, type Authorize, type Principal, type SyncCoreOptions, type Validate } from "./core/sync-core.js";
export type { ConflictPolicy, ServerConflictStrategy } from "./core/conflicts.js";
export type { Availability } from "./core/storage-link.js";
export { createLevelStorage, createMemoryStorage, createPostgresStorage, LevelStorage, StorageUnavailableError } from "./storage/index.js";
export type * from "./storage/types.js";
