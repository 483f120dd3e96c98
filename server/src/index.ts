// @pocket-sync/server: the reference Pocket Sync server, as a library.
export { createSyncServer, type SyncServer, type SyncServerOptions } from "./serve/server.js";
export {
  bearerToken,
  hmacAuthenticator,
  parseTokenFile,
  scopeAuthorize,
  signToken,
  staticTokenAuthenticator,
  tokenFileAuthenticator,
  type Authenticate,
  type ScopedPrincipal,
} from "./serve/auth.js";
export { SyncCore, DEFAULTS, type Action, type Authorize, type Principal, type SyncCoreOptions, type Validate } from "./core/sync-core.js";
export type { ConflictPolicy, ServerConflictStrategy } from "./core/conflicts.js";
export type { Availability } from "./core/storage-link.js";
export { createLevelStorage, createMemoryStorage, createPostgresStorage, LevelStorage, StorageUnavailableError } from "./storage/index.js";
export type * from "./storage/types.js";
