// The Node entry: everything in ./index.ts, plus transports over Node's own
// HTTP stack, including gRPC over HTTP/2.
import { createSyncEngine as createEngine, type SyncEngine, type SyncEngineConfig, type Syncable } from "./engine/engine.js";
import { createNodeTransport } from "./transport/node.js";

export * from "./index.js";
export { createNodeTransport } from "./transport/node.js";

/** createSyncEngine, where transport "connect", "grpc-web" and "grpc" use Node's http/http2. */
export function createSyncEngine(db: Syncable, config: SyncEngineConfig): SyncEngine {
  const transport = typeof config.transport === "string" ? createNodeTransport(config.transport, config.serverUrl) : config.transport;
  return createEngine(db, { ...config, ...(transport ? { transport } : {}) });
}
