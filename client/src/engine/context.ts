// What the engine's loops share: the store, the client, the settings with their
// defaults, the status, the token and whether the engine runs.
import { createClient, type CallOptions, type Client } from "@connectrpc/connect";
import { SyncService, type Filter } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { SyncStore } from "../store.js";
import { createWebTransport } from "../transport/index.js";
import { backoffDelay } from "./backoff.js";
import { resolveScope } from "./scope.js";
import { StatusTracker } from "./status.js";
import type { ConflictStrategy, CustomConflictResolver, SyncDirection, SyncEngineConfig } from "./types.js";

const MAX_PUSH = 500;

/** The configuration with every default filled in. */
export interface EngineSettings {
  /** Empty: every collection (PROTOCOL §4.8). */
  readonly collections: string[];
  /** The wire filter of each filtered collection (§4.10), sent with every Pull and Subscribe. */
  readonly filters: Record<string, Filter>;
  readonly direction: SyncDirection;
  readonly strategy: ConflictStrategy;
  readonly resolver: CustomConflictResolver | undefined;
  readonly batchSize: number;
  readonly retryDelay: number;
  readonly maxRetryDelay: number;
  readonly maxAttempts: number;
  readonly autoRetry: boolean;
  readonly random: () => number;
  readonly useStream: boolean;
  readonly pullInterval: number;
  readonly heartbeatInterval: number;
}

export function resolveSettings(config: SyncEngineConfig): EngineSettings {
  if (config.conflictStrategy === "custom" && !config.conflictResolver) throw new Error("createSyncEngine: conflictStrategy 'custom' needs a conflictResolver");
  return {
    ...resolveScope(config.collections),
    direction: config.direction ?? "both",
    strategy: config.conflictStrategy ?? "last-write-wins",
    resolver: config.conflictResolver,
    batchSize: Math.max(1, Math.min(config.batchSize ?? 100, MAX_PUSH)),
    retryDelay: config.retryDelay ?? 1000,
    maxRetryDelay: config.maxRetryDelay ?? 30_000,
    maxAttempts: config.maxRetryAttempts ?? 5,
    autoRetry: config.autoRetry ?? true,
    random: config.random ?? Math.random,
    useStream: config.useWebSocket !== false,
    pullInterval: config.pullInterval ?? 30_000,
    heartbeatInterval: config.heartbeatInterval ?? 10_000,
  };
}

export class EngineContext {
  readonly status = new StatusTracker();
  readonly client: Client<typeof SyncService>;
  readonly settings: EngineSettings;
  token: string | undefined;
  running = false;
  private clientIdValue: string | undefined;

  constructor(
    readonly store: SyncStore,
    config: SyncEngineConfig,
  ) {
    this.settings = resolveSettings(config);
    this.token = config.authToken;
    const transport = config.transport ?? "connect";
    if (transport === "grpc") {
      throw new Error("transport 'grpc' needs Node: import createSyncEngine from the Node entry (client/src/node.ts)");
    }
    this.client = createClient(SyncService, typeof transport === "string" ? createWebTransport(transport, config.serverUrl) : transport);
  }

  get pushes(): boolean {
    return this.settings.direction !== "pull";
  }
  get pulls(): boolean {
    return this.settings.direction !== "push";
  }

  async loadClientId(): Promise<void> {
    this.clientIdValue = await this.store.clientId();
  }
  async ensureClientId(): Promise<void> {
    this.clientIdValue ??= await this.store.clientId();
  }
  get clientId(): string {
    if (this.clientIdValue === undefined) throw new Error("client id not loaded");
    return this.clientIdValue;
  }

  /** What every Pull and Subscribe reads: the collections and their filters. */
  get scope(): { collections: string[]; filters: Record<string, Filter> } {
    const { collections, filters } = this.settings;
    return { collections, filters };
  }

  callOptions(signal?: AbortSignal): CallOptions {
    return {
      ...(this.token !== undefined ? { headers: { authorization: `Bearer ${this.token}` } } : {}),
      ...(signal ? { signal } : {}),
    };
  }

  backoff(attempt: number): number {
    const { retryDelay, maxRetryDelay, random } = this.settings;
    return backoffDelay(attempt, retryDelay, maxRetryDelay, random);
  }
}
