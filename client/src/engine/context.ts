// What the engine's loops share: the store, the client, the settings with their
// defaults, the status, the token and whether the engine runs.
import { createClient, type CallOptions, type Client } from "@connectrpc/connect";
import { SyncService } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { SyncStore } from "../store.js";
import { createWebTransport } from "../transport/index.js";
import { backoffDelay } from "./backoff.js";
import { StatusTracker } from "./status.js";
import type { ConflictStrategy, CustomConflictResolver, SyncDirection, SyncEngineConfig } from "./types.js";

const MAX_PUSH = 500;

/** The configuration with every default filled in. */
export interface EngineSettings {
  readonly collections: string[];
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
  if (config.collections.length === 0) throw new Error("createSyncEngine: collections must not be empty");
  if (config.conflictStrategy === "custom" && !config.conflictResolver) throw new Error("createSyncEngine: conflictStrategy 'custom' needs a conflictResolver");
  return {
    collections: [...new Set(config.collections)],
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
