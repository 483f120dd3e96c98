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
export { SyncCore, DEFAULTS, ANONYMOUS, type Action, type Authorize, type Principal, type SyncCoreOptions, type Validate } from "./core/sync-core.js";
export type { ConflictPolicy, ServerConflictStrategy } from "./core/conflicts.js";
export { createLevelStorage, createMemoryStorage, LevelStorage } from "./storage/index.js";
export type * from "./storage/types.js";
