// createSyncServer: the core, the fan-out hub and the Connect routes on a
// fastify instance, serving Connect, gRPC and gRPC-Web over HTTP/1.1 and
// HTTP/2 on one port, with CORS, metrics, health and graceful shutdown.
import fastifyCors from "@fastify/cors";
import { cors as connectCors } from "@connectrpc/connect";
import fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type http2 from "node:http2";
import { setMaxListeners } from "node:events";
import type { AddressInfo } from "node:net";
import { SyncCore, type SyncCoreOptions } from "../core/sync-core.js";
import { FanoutHub } from "../fanout/hub.js";
import { createLevelStorage } from "../storage/index.js";
import type { Storage } from "../storage/types.js";
import { scopeAuthorize, type Authenticate } from "./auth.js";
import { connectRoutes, type ConnectRoutesOptions } from "./connect-routes.js";
import { decodingErrorGate } from "./decoding-errors.js";
import { followAvailability, HealthState, healthRoutes } from "./health.js";
import {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_DISCARD_BYTES,
  DEFAULT_SHUTDOWN_GRACE_MS,
  defaultMaxConnections,
} from "./limits.js";
import { serveHttp1And2, type DualServer } from "./listen.js";
import { createMetrics } from "./metrics.js";
import { createGuard } from "./guard.js";
import { syncServiceRoutes } from "./service.js";
import { subscribeRoute } from "./subscribe-route.js";

export interface SyncServerOptions extends SyncCoreOptions {
  /** Where data lives; default: LevelDB in `dataDir`. */
  readonly storage?: Storage;
  /** Directory of the default LevelDB storage; default "./data". */
  readonly dataDir?: string;
  /** Turns a bearer token into a principal; absent: no authentication. */
  readonly authenticate?: Authenticate;
  /** Longest silence on a Subscribe stream before a heartbeat; default 15 s. */
  readonly heartbeatMs?: number;
  readonly subscribePageSize?: number;
  /** Largest request message; default 8 MiB. */
  readonly maxMessageBytes?: number;
  /**
   * How much of a refused request body is read and dropped so that the client
   * can read the refusal; default 64 MiB.
   */
  readonly maxDiscardBytes?: number;
  /** A request head, or the HTTP/2 preface and SETTINGS, must arrive within this of connecting; default 10 s. */
  readonly headersTimeoutMs?: number;
  /** A request body that sends nothing for this long is cut off; default 30 s. */
  readonly bodyTimeoutMs?: number;
  /** A connection with no request in progress is closed after this; default 65 s. */
  readonly idleTimeoutMs?: number;
  /** Connections open at once; default half the open-file limit, at most 10,000. */
  readonly maxConnections?: number;
  /** How long close() lets requests in progress finish before cutting them; default 10 s. */
  readonly shutdownGraceMs?: number;
  /** Changes queued for one subscriber before it falls back to catch-up; default 1000. */
  readonly maxSubscriberQueue?: number;
  /** How often tombstones past retention are purged; default hourly. */
  readonly purgeIntervalMs?: number;
  /** Browser origins allowed by CORS: true for any (the default), or a list. */
  readonly corsOrigins?: true | readonly string[];
  readonly logger?: FastifyServerOptions["logger"];
}

export interface SyncServer {
  readonly core: SyncCore;
  readonly hub: FanoutHub;
  readonly app: FastifyInstance;
  /** Open connections (0 before listen()). */
  readonly connections: number;
  /** Starts serving; resolves with the base URL, e.g. http://127.0.0.1:8080. */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  /**
   * Graceful shutdown: stop accepting connections, end streams cleanly, let
   * requests already received finish (cut after the grace period), close storage.
   */
  close(): Promise<void>;
}

export async function createSyncServer(options: SyncServerOptions = {}): Promise<SyncServer> {
  const storage = options.storage ?? createLevelStorage(options.dataDir ?? "./data");
  const core = await SyncCore.open(storage, { authorize: scopeAuthorize, ...options });
  const hub = new FanoutHub();
  core.onCommit((changes, watermark, complete) => hub.publish(changes, watermark, complete));
  const health = new HealthState(core.availability.writable);
  let dual: DualServer | undefined;
  const metrics = createMetrics(core, hub, { connections: () => dual?.connections ?? 0 });
  const maxMessageBytes = options.maxMessageBytes ?? 8 * 1024 * 1024;
  // Aborted when shutdown begins: every Subscribe stream ends cleanly, even
  // one that opens while it happens.
  const closing = new AbortController();
  setMaxListeners(0, closing.signal);
  // Aborted when shutdown has waited long enough: handlers still running give up.
  const shutdown = new AbortController();
  setMaxListeners(0, shutdown.signal);

  // fastify's types split HTTP/1 and HTTP/2 instances; we serve both through
  // one HTTP/2-mode instance (see listen.ts), so one cast at construction.
  const app = (fastify as (o: object) => FastifyInstance)({
    http2: true,
    logger: options.logger ?? false,
    // Connect and the Subscribe route read bodies and enforce the message
    // limit themselves (resource_exhausted, see connect-routes.ts).
    // Subscribe streams stay open for as long as the client wants.
    http2SessionTimeout: 0,
  });
  await app.register(fastifyCors, {
    origin: options.corsOrigins === undefined || options.corsOrigins === true ? true : [...options.corsOrigins],
    methods: [...connectCors.allowedMethods],
    allowedHeaders: [...connectCors.allowedHeaders, "Authorization"],
    exposedHeaders: [...connectCors.exposedHeaders],
    maxAge: 7200,
  });
  const guard = createGuard(options.authenticate);
  const maxDiscardBytes = options.maxDiscardBytes ?? DEFAULT_MAX_DISCARD_BYTES;
  await app.register(connectRoutes, {
    routes: (router) => {
      syncServiceRoutes({ core, guard })(router);
      healthRoutes(health)(router);
    },
    interceptors: [metrics.interceptor],
    // Requests the RPC stack cannot decode are the client's mistake (§11).
    requestGate: decodingErrorGate,
    readMaxBytes: maxMessageBytes,
    maxDiscardBytes,
    // Every in-flight call listens on it, hence no listener limit.
    shutdownSignal: shutdown.signal,
  } satisfies ConnectRoutesOptions);
  await app.register(
    subscribeRoute({
      core,
      hub,
      guard,
      defaultHeartbeatMs: options.heartbeatMs ?? 15_000,
      pageSize: options.subscribePageSize ?? 500,
      maxQueuedChanges: options.maxSubscriberQueue ?? 1000,
      readMaxBytes: maxMessageBytes,
      maxDiscardBytes,
      closing: closing.signal,
      observe: metrics.observeStream("Subscribe"),
    }),
  );
  const unfollow = followAvailability(core, health, app.log);
  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get("/", async () => ({ service: "pocket.sync.v1.SyncService", status: "serving" }));

  const purgeTimer = setInterval(() => {
    core.purge().catch((error) => app.log.error({ err: error }, "purging tombstones failed"));
  }, options.purgeIntervalMs ?? 60 * 60 * 1000);
  purgeTimer.unref();

  let closed: Promise<void> | undefined;

  return {
    core,
    hub,
    app,
    get connections() {
      return dual?.connections ?? 0;
    },
    async listen({ port = 8080, host = "127.0.0.1" } = {}) {
      await app.ready();
      const http2Server = app.server as unknown as http2.Http2Server;
      dual = serveHttp1And2(http2Server, (req, res) => http2Server.emit("request", req, res), {
        headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
        bodyTimeoutMs: options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
        idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
        maxConnections: options.maxConnections ?? defaultMaxConnections(),
        warn: (message) => app.log.warn(message),
      });
      await new Promise<void>((resolve, reject) => {
        dual!.server.once("error", reject);
        dual!.server.listen(port, host, () => resolve());
      });
      const address = dual.server.address() as AddressInfo;
      const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
      app.log.info({ url }, "listening");
      return url;
    },
    close() {
      closed ??= (async () => {
        clearInterval(purgeTimer);
        unfollow();
        health.stopServing();
        closing.abort();
        hub.closeAll();
        const cut = (await dual?.close(options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS)) ?? 0;
        if (cut > 0) app.log.warn(`shutdown: cut ${cut} connection${cut === 1 ? "" : "s"} still busy after the grace period`);
        shutdown.abort(new Error("the server is shutting down"));
        await app.close();
        await core.close();
      })();
      return closed;
    },
  };
}
