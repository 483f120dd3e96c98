// The fault-injecting proxy: a SyncService of its own (Connect, gRPC and
// gRPC-Web over HTTP/1.1 and h2c on one port) that forwards every call to an
// upstream server with a Connect client, records every call, and on demand
// injects faults (drop the connection, lose a response after the upstream
// applied it, answer unavailable, delay, end a stream) or breaks the protocol
// on purpose (to prove the suite catches broken servers).
import { create } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createClient,
  createContextKey,
  createContextValues,
  type HandlerContext,
  type ServiceImpl,
} from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import {
  ChangeEventSchema,
  PullResponseSchema,
  SyncService,
  type ChangeEvent,
  type ChangeResult,
  type Checkpoint,
  type Filter,
  type PullRequest,
  type PullResponse,
  type PushRequest,
  type PushResponse,
  type SubscribeRequest,
  type SubscribeResponse,
} from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { ERROR_DOMAIN, sleep } from "./wire.js";

export type Method = "push" | "pull" | "subscribe";

export type Fault =
  /** Close the connection before forwarding: the upstream never sees the call. */
  | { kind: "drop" }
  /** Forward, let the upstream apply it, then close the connection: the response is lost. */
  | { kind: "lose-response" }
  /** Answer unavailable (ERROR_REASON_UNAVAILABLE) without forwarding. */
  | { kind: "unavailable" }
  /** Wait, then forward. */
  | { kind: "delay"; ms: number }
  /** Subscribe: end the stream cleanly after this many messages. */
  | { kind: "end-stream"; afterMessages: number }
  /** Subscribe: fail the stream with unavailable after this many messages. */
  | { kind: "fail-stream"; afterMessages: number };

/** Deliberate protocol violations, for the suite's own tests. */
export interface Breakage {
  /** Retries of a recorded (client_id, client_sequence) reach the upstream with a fresh sequence: applied twice. */
  skipIdempotency?: boolean;
  /** Pull pages and stream batches come in reverse sequence order. */
  reorder?: boolean;
  /** Changes whose server sequence is a multiple of 5 are dropped from pulls and streams. */
  dropChanges?: boolean;
  /** The last change of every pull page and stream batch is sent twice. */
  duplicateChanges?: boolean;
  /** Pulls and subscribes are forwarded without their checkpoint (always from the beginning). */
  ignoreCheckpoint?: boolean;
  /** Heartbeats are never delivered. */
  dropHeartbeats?: boolean;
  /** Conflict and Resolved outcomes are turned into Accepted. */
  hideConflicts?: boolean;
  /** Errors of the upstream become empty successful responses. */
  swallowErrors?: boolean;
  /** Calls without a valid token are forwarded with this token. */
  anonymousAs?: string;
  /** Tombstones are dropped from pulls and streams. */
  dropTombstones?: boolean;
  /** Pulls and subscribes are forwarded without their filters (a server that ignores them, §4.10). */
  ignoreFilters?: boolean;
}

export interface PushRecord {
  readonly at: number;
  readonly clientId: string;
  readonly changes: ChangeEvent[];
  readonly fault?: Fault["kind"];
  /** The upstream's results, when it answered (even if the response was then lost). */
  results?: ChangeResult[];
  error?: string;
}

export interface PullRecord {
  readonly at: number;
  readonly clientId: string;
  readonly collections: string[];
  /** The filters the request carried, by collection (§4.10). */
  readonly filters: Record<string, Filter>;
  readonly checkpoint: Checkpoint | undefined;
  readonly fault?: Fault["kind"];
  response?: { checkpoint: Checkpoint | undefined; changes: number; hasMore: boolean };
  error?: string;
}

export interface SubscribeRecord {
  readonly at: number;
  readonly clientId: string;
  readonly collections: string[];
  /** The filters the request carried, by collection (§4.10). */
  readonly filters: Record<string, Filter>;
  readonly checkpoint: Checkpoint | undefined;
  readonly fault?: Fault["kind"];
  messages: number;
  /** The last checkpoint sent down the stream. */
  lastCheckpoint?: Checkpoint | undefined;
  /** The checkpoint of the last heartbeat sent down the stream. */
  lastHeartbeat?: Checkpoint | undefined;
  /** The changes sent down the stream, in order. */
  readonly delivered: { documentId: string; revision: string }[];
  ended?: string;
}

const rawRequest = createContextKey<http.IncomingMessage | http2.Http2ServerRequest | undefined>(undefined);

export class FaultProxy {
  readonly pushes: PushRecord[] = [];
  readonly pulls: PullRecord[] = [];
  readonly subscribes: SubscribeRecord[] = [];
  breakage: Breakage = {};
  /** Document ids pulls and streams do not deliver (a fault tool: the client learns of them only from push results). */
  readonly hiddenDocuments = new Set<string>();
  private readonly faults: Record<Method, Fault[]> = { push: [], pull: [], subscribe: [] };
  private readonly seenKeys = new Map<string, number>();
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly upstream;
  url = "";

  constructor(readonly upstreamUrl: string) {
    this.upstream = createClient(
      SyncService,
      createConnectTransport({ baseUrl: upstreamUrl, httpVersion: "1.1", useBinaryFormat: true }),
    );
  }

  /** Decides a fault by what a pull asks for, when none is queued (cleared by clearFaults). */
  pullFault: ((request: PullRequest) => Fault | undefined) | undefined;

  /** Applies `fault` to the next `times` calls of `method`. */
  inject(method: Method, fault: Fault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults[method].push(fault);
  }

  clearFaults(): void {
    for (const m of Object.keys(this.faults) as Method[]) this.faults[m] = [];
    this.pullFault = undefined;
  }

  /** Forgets records, faults and breakage (between cases). */
  reset(): void {
    this.pushes.length = 0;
    this.pulls.length = 0;
    this.subscribes.length = 0;
    this.clearFaults();
    this.breakage = {};
    this.hiddenDocuments.clear();
  }

  /** Faults injected but not yet consumed. */
  pendingFaults(method: Method): number {
    return this.faults[method].length;
  }

  private takeFault(method: Method): Fault | undefined {
    return this.faults[method].shift();
  }

  private headers(ctx: HandlerContext): Record<string, string> {
    const authorization = ctx.requestHeader.get("authorization");
    if (this.breakage.anonymousAs && !authorization) return { authorization: `Bearer ${this.breakage.anonymousAs}` };
    return authorization ? { authorization } : {};
  }

  /** Closes the client's connection (HTTP/1.1 socket or HTTP/2 stream). */
  private dropConnection(ctx: HandlerContext): never {
    const req = ctx.values.get(rawRequest);
    if (req && "stream" in req) req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    else req?.socket.destroy();
    throw new ConnectError("connection dropped by the fault proxy", Code.Aborted);
  }

  private filterChanges(changes: ChangeEvent[]): ChangeEvent[] {
    let out = changes.filter((c) => !this.hiddenDocuments.has(c.documentId));
    if (this.breakage.dropChanges) out = out.filter((c) => c.serverSequence % 5n !== 0n);
    if (this.breakage.dropTombstones) out = out.filter((c) => !c.deleted);
    if (this.breakage.reorder) out = [...out].reverse();
    if (this.breakage.duplicateChanges && out.length) out = [...out, create(ChangeEventSchema, out.at(-1)!)];
    return out;
  }

  /** A pull or subscribe as the breakage forwards it. */
  private forwarded<R extends PullRequest | SubscribeRequest>(req: R): R {
    let out = req;
    if (this.breakage.ignoreCheckpoint) out = { ...out, checkpoint: undefined };
    if (this.breakage.ignoreFilters) out = { ...out, filters: {} };
    return out;
  }

  private readonly impl: ServiceImpl<typeof SyncService> = {
    push: async (req: PushRequest, ctx: HandlerContext): Promise<PushResponse> => {
      const fault = this.takeFault("push");
      const record: PushRecord = {
        at: Date.now(),
        clientId: req.clientId,
        changes: req.changes.map((c) => create(ChangeEventSchema, c)),
        ...(fault ? { fault: fault.kind } : {}),
      };
      this.pushes.push(record);
      if (fault?.kind === "drop") this.dropConnection(ctx);
      if (fault?.kind === "unavailable") throw unavailable();
      if (fault?.kind === "delay") await sleep(fault.ms);
      let forwarded = req;
      if (this.breakage.skipIdempotency) {
        forwarded = { ...req, changes: req.changes.map((c) => {
          const key = `${req.clientId}/${c.clientSequence}`;
          const n = (this.seenKeys.get(key) ?? 0) + 1;
          this.seenKeys.set(key, n);
          return n === 1 ? c : create(ChangeEventSchema, { ...c, clientSequence: c.clientSequence + 1_000_000_000n * BigInt(n) });
        }) };
      }
      let res: PushResponse;
      try {
        res = await this.upstream.push(forwarded, { headers: this.headers(ctx), signal: ctx.signal });
      } catch (error) {
        record.error = String(error);
        if (this.breakage.swallowErrors) return { $typeName: "pocket.sync.v1.PushResponse", results: [] };
        throw error;
      }
      record.results = res.results;
      if (this.breakage.skipIdempotency) {
        for (const [i, r] of res.results.entries()) r.clientSequence = req.changes[i]?.clientSequence ?? r.clientSequence;
      }
      if (this.breakage.hideConflicts) {
        for (const r of res.results) {
          if (r.outcome.case === "conflict" || r.outcome.case === "resolved") {
            const current = r.outcome.value.current;
            r.outcome = { case: "accepted", value: { $typeName: "pocket.sync.v1.Accepted", revision: current?.revision ?? "", serverSequence: current?.serverSequence ?? 0n } };
          }
        }
      }
      if (fault?.kind === "lose-response") this.dropConnection(ctx);
      return res;
    },

    pull: async (req: PullRequest, ctx: HandlerContext): Promise<PullResponse> => {
      const fault = this.takeFault("pull") ?? this.pullFault?.(req);
      const record: PullRecord = {
        at: Date.now(),
        clientId: req.clientId,
        collections: [...req.collections],
        filters: { ...req.filters },
        checkpoint: req.checkpoint,
        ...(fault ? { fault: fault.kind } : {}),
      };
      this.pulls.push(record);
      if (fault?.kind === "drop") this.dropConnection(ctx);
      if (fault?.kind === "unavailable") throw unavailable();
      if (fault?.kind === "delay") await sleep(fault.ms);
      const forwarded = this.forwarded(req);
      let res: PullResponse;
      try {
        res = await this.upstream.pull(forwarded, { headers: this.headers(ctx), signal: ctx.signal });
      } catch (error) {
        record.error = String(error);
        if (this.breakage.swallowErrors) return create(PullResponseSchema, { checkpoint: req.checkpoint });
        throw error;
      }
      res.changes = this.filterChanges(res.changes);
      record.response = { checkpoint: res.checkpoint, changes: res.changes.length, hasMore: res.hasMore };
      if (fault?.kind === "lose-response") this.dropConnection(ctx);
      return res;
    },

    subscribe: async function* (this: FaultProxy, req: SubscribeRequest, ctx: HandlerContext): AsyncGenerator<SubscribeResponse> {
      const fault = this.takeFault("subscribe");
      const record: SubscribeRecord = {
        at: Date.now(),
        clientId: req.clientId,
        collections: [...req.collections],
        filters: { ...req.filters },
        checkpoint: req.checkpoint,
        ...(fault ? { fault: fault.kind } : {}),
        messages: 0,
        delivered: [],
      };
      this.subscribes.push(record);
      if (fault?.kind === "drop") this.dropConnection(ctx);
      if (fault?.kind === "unavailable") throw unavailable();
      if (fault?.kind === "delay") await sleep(fault.ms);
      const forwarded = this.forwarded(req);
      try {
        for await (const message of this.upstream.subscribe(forwarded, { headers: this.headers(ctx), signal: ctx.signal })) {
          if (message.event.case === "heartbeat" && this.breakage.dropHeartbeats) continue;
          if (message.event.case === "changes") message.event.value.changes = this.filterChanges(message.event.value.changes);
          if (fault && (fault.kind === "end-stream" || fault.kind === "fail-stream") && record.messages >= fault.afterMessages) {
            record.ended = fault.kind;
            if (fault.kind === "fail-stream") throw unavailable();
            return;
          }
          record.messages++;
          record.lastCheckpoint = message.event.value?.checkpoint;
          if (message.event.case === "heartbeat") record.lastHeartbeat = message.event.value.checkpoint;
          else if (message.event.case === "changes") record.delivered.push(...message.event.value.changes.map((c) => ({ documentId: c.documentId, revision: c.revision })));
          yield message;
        }
        record.ended = "upstream ended";
      } catch (error) {
        record.ended ??= String(error);
        if (this.breakage.swallowErrors && !(error instanceof ConnectError && error.code === Code.Unavailable && record.ended === "fail-stream")) {
          yield { $typeName: "pocket.sync.v1.SubscribeResponse", event: { case: "changes", value: { $typeName: "pocket.sync.v1.ChangeBatch", changes: [], checkpoint: req.checkpoint, caughtUp: true } } };
          return;
        }
        throw error;
      }
    }.bind(this) as ServiceImpl<typeof SyncService>["subscribe"],
  };

  async start(port = 0): Promise<string> {
    const handler = connectNodeAdapter({
      routes: (router) => router.service(SyncService, this.impl),
      contextValues: (req) => createContextValues().set(rawRequest, req as http.IncomingMessage),
    });
    const h1 = http.createServer(handler);
    h1.requestTimeout = 0;
    const h2 = http2.createServer(handler);
    const server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
      socket.once("readable", () => {
        const head = socket.read() as Buffer | null;
        if (head) socket.unshift(head);
        (head?.subarray(0, 3).toString() === "PRI" ? h2 : h1).emit("connection", socket);
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    const address = server.address() as net.AddressInfo;
    this.url = `http://127.0.0.1:${address.port}`;
    return this.url;
  }

  /** Ends every connection: open streams end with a network error. */
  dropAllConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    this.dropAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function unavailable(): ConnectError {
  return new ConnectError("the fault proxy says: unavailable", Code.Unavailable, undefined, [
    { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { domain: ERROR_DOMAIN, reason: "ERROR_REASON_UNAVAILABLE" }) },
  ]);
}
