// The conformance suite speaks only the wire: generated messages from gen/ts
// and Connect transports. Nothing here may import server/, client/ or common/.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  type Http2SessionManager,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { GoawaySafeSessionManager } from "./http2-sessions.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import {
  ChangeEventSchema,
  CheckpointSchema,
  Operation,
  SyncService,
  type ChangeEvent,
  type Checkpoint,
  type Filter,
  type PullResponse,
} from "../../gen/ts/pocket/sync/v1/sync_pb.js";

export const ERROR_DOMAIN = "sync.pocket.dev";

export const PROTOCOLS = ["connect-json", "connect-proto", "grpc", "grpc-web"] as const;
export type Protocol = (typeof PROTOCOLS)[number];
export type HttpVersion = "1.1" | "2";

export type SyncClient = Client<typeof SyncService>;

export interface WireOptions {
  readonly url: string;
  readonly protocol: Protocol;
  readonly httpVersion: HttpVersion;
  /** The bearer token; undefined sends no authorization header. */
  readonly token?: string | undefined;
  /** Sent verbatim as the authorization header (overrides token). */
  readonly authorization?: string | undefined;
  readonly useHttpGet?: boolean;
  /** HTTP/1.1 only: a dedicated agent (for calls that may leave a connection unusable). */
  readonly agent?: import("node:http").Agent;
  /** Accept compressed responses (default true); false asks for every message uncompressed. */
  readonly compression?: boolean;
}

/** Opens transports and closes their HTTP/2 sessions when done. */
export class Wire {
  private readonly sessions: Http2SessionManager[] = [];

  transport(options: WireOptions): Transport {
    const authorization = options.authorization ?? (options.token === undefined ? undefined : `Bearer ${options.token}`);
    const auth: Interceptor = (next) => (req) => {
      if (authorization !== undefined) req.header.set("authorization", authorization);
      return next(req);
    };
    const common = { baseUrl: options.url, interceptors: [auth], ...(options.compression === false ? { acceptCompression: [] } : {}) };
    const http =
      options.httpVersion === "2"
        ? { httpVersion: "2" as const, sessionManager: this.session(options.url) }
        : { httpVersion: "1.1" as const, ...(options.agent ? { nodeOptions: { agent: options.agent } } : {}) };
    switch (options.protocol) {
      case "connect-json":
        return createConnectTransport({ ...common, ...http, useBinaryFormat: false, useHttpGet: options.useHttpGet ?? false });
      case "connect-proto":
        return createConnectTransport({ ...common, ...http, useBinaryFormat: true, useHttpGet: options.useHttpGet ?? false });
      case "grpc":
        if (options.httpVersion !== "2") throw new Error("gRPC needs HTTP/2");
        return createGrpcTransport({ ...common, sessionManager: this.session(options.url) });
      case "grpc-web":
        return createGrpcWebTransport({ ...common, ...http });
    }
  }

  client(options: WireOptions): SyncClient {
    return createClient(SyncService, this.transport(options));
  }

  private session(url: string): Http2SessionManager {
    const manager = new GoawaySafeSessionManager(url);
    this.sessions.push(manager);
    return manager;
  }

  close(): void {
    for (const s of this.sessions.splice(0)) s.abort();
  }
}

export function parseProtocol(value: string): Protocol {
  if ((PROTOCOLS as readonly string[]).includes(value)) return value as Protocol;
  throw new Error(`unknown protocol ${value}: expected one of ${PROTOCOLS.join(", ")}`);
}

// ---------------------------------------------------------------- errors

export interface WireError {
  readonly code: Code;
  readonly codeName: string;
  readonly message: string;
  readonly reason: string | undefined;
  readonly metadata: Record<string, string>;
  readonly fields: string[];
}

export function codeName(code: Code): string {
  return Code[code]!.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

export function parseCode(name: string): Code {
  const camel = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const key = camel.charAt(0).toUpperCase() + camel.slice(1);
  const code = (Code as unknown as Record<string, Code | undefined>)[key];
  if (code === undefined) throw new Error(`unknown status code ${name}`);
  return code;
}

export function wireError(error: unknown): WireError {
  const e = ConnectError.from(error);
  let reason: string | undefined;
  let metadata: Record<string, string> = {};
  for (const info of e.findDetails(ErrorInfoSchema)) {
    if (info.domain === ERROR_DOMAIN) {
      reason = info.reason;
      metadata = { ...info.metadata };
    }
  }
  const fields = e.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));
  return { code: e.code, codeName: codeName(e.code), message: e.rawMessage, reason, metadata, fields };
}

/** Runs fn and returns the error it failed with; throws if it succeeded. */
export async function expectFailure(what: string, fn: () => Promise<unknown>): Promise<WireError> {
  try {
    await fn();
  } catch (error) {
    return wireError(error);
  }
  throw new CheckFailure(`${what}: expected an error, the call succeeded`);
}

// ---------------------------------------------------------------- checks

/** A failed expectation of the suite (as opposed to a bug in the suite). */
export class CheckFailure extends Error {
  override name = "CheckFailure";
}

/** Thrown by a case that cannot run against this implementation. */
export class Skip extends Error {
  override name = "Skip";
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailure(message);
}

export function checkEqual<T>(actual: T, expected: T, what: string): void {
  const a = stringify(actual);
  const b = stringify(expected);
  if (a !== b) throw new CheckFailure(`${what}: expected ${b}, got ${a}`);
}

export function stringify(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
}

export function checkError(
  error: WireError,
  expected: { code: Code | Code[]; reason?: string | string[]; field?: string },
  what: string,
): void {
  const codes = Array.isArray(expected.code) ? expected.code : [expected.code];
  check(
    codes.includes(error.code),
    `${what}: expected code ${codes.map(codeName).join(" or ")}, got ${error.codeName} (${error.message})`,
  );
  if (expected.reason !== undefined) {
    const reasons = Array.isArray(expected.reason) ? expected.reason : [expected.reason];
    check(
      error.reason !== undefined && reasons.includes(error.reason),
      `${what}: expected ErrorInfo reason ${reasons.join(" or ")} (domain ${ERROR_DOMAIN}), got ${error.reason ?? "none"}`,
    );
  }
  if (expected.field !== undefined) {
    check(
      error.fields.includes(expected.field),
      `${what}: expected a BadRequest field violation for ${expected.field}, got [${error.fields.join(", ")}]`,
    );
  }
}

// ---------------------------------------------------------------- changes

let lastStamp = { wallTimeMs: 0n, logical: 0 };
/**
 * A strictly increasing timestamp at the current time, as a hybrid logical
 * clock makes them: several in one millisecond differ in the logical counter.
 * It never runs ahead of the wall clock, so what one case writes in bulk
 * cannot make another case's "now" later than the client's writes after it.
 */
export function nextTimestamp(): { wallTimeMs: bigint; logical: number } {
  const now = BigInt(Date.now());
  lastStamp = now > lastStamp.wallTimeMs ? { wallTimeMs: now, logical: 0 } : { wallTimeMs: lastStamp.wallTimeMs, logical: lastStamp.logical + 1 };
  return { ...lastStamp };
}

export type ChangeInit = MessageInitShape<typeof ChangeEventSchema>;

export function insert(collection: string, documentId: string, document: unknown, clientSequence: bigint): ChangeEvent {
  return create(ChangeEventSchema, {
    operation: Operation.INSERT,
    collection,
    documentId,
    document: typeof document === "string" ? document : JSON.stringify(document),
    clientSequence,
    timestamp: nextTimestamp(),
  });
}

export function update(
  collection: string,
  documentId: string,
  document: unknown,
  baseRevision: string,
  clientSequence: bigint,
): ChangeEvent {
  return create(ChangeEventSchema, {
    operation: Operation.UPDATE,
    collection,
    documentId,
    document: typeof document === "string" ? document : JSON.stringify(document),
    baseRevision,
    clientSequence,
    timestamp: nextTimestamp(),
  });
}

export function remove(collection: string, documentId: string, baseRevision: string, clientSequence: bigint): ChangeEvent {
  return create(ChangeEventSchema, {
    operation: Operation.DELETE,
    collection,
    documentId,
    baseRevision,
    clientSequence,
    timestamp: nextTimestamp(),
  });
}

/** Pulls until has_more is false and returns every page; `filters` per collection (§4.10). */
export async function pullAll(
  client: SyncClient,
  collections: string[],
  checkpoint?: Checkpoint,
  limit = 0,
  filters: Record<string, Filter> = {},
): Promise<{ pages: PullResponse[]; changes: ChangeEvent[]; checkpoint: Checkpoint | undefined }> {
  const pages: PullResponse[] = [];
  let position = checkpoint;
  for (let i = 0; i < 10_000; i++) {
    const page = await client.pull({ collections, checkpoint: position, limit, filters });
    pages.push(page);
    position = page.checkpoint;
    if (!page.hasMore) break;
    check(page.changes.length > 0, "pull: has_more is set but the page is empty");
  }
  return { pages, changes: pages.flatMap((p) => p.changes), checkpoint: position };
}

/**
 * pullAll as a client pulls (§8.4): a collection refused with
 * ERROR_REASON_RESYNC_REQUIRED is pulled again from its beginning, up to
 * `resyncs` times. For reads that page through all a server holds, which
 * take long enough for a purge to land above where they began (§8.3).
 */
export async function pullResyncing(
  client: SyncClient,
  collections: string[],
  checkpoint?: Checkpoint,
  limit = 0,
  filters: Record<string, Filter> = {},
  resyncs = 10,
): Promise<{ pages: PullResponse[]; changes: ChangeEvent[]; checkpoint: Checkpoint | undefined; resynced: string[] }> {
  const pages: PullResponse[] = [];
  const resynced: string[] = [];
  let position = checkpoint;
  for (let i = 0; i < 10_000; i++) {
    let page: PullResponse;
    try {
      page = await client.pull({ collections, checkpoint: position, limit, filters });
    } catch (error) {
      const e = wireError(error);
      const named = (e.metadata.collections ?? "").split(",").filter(Boolean);
      if (e.code !== Code.FailedPrecondition || e.reason !== "ERROR_REASON_RESYNC_REQUIRED" || named.length === 0 || resynced.length >= resyncs) throw error;
      resynced.push(...named);
      // Those collections from their beginning; the others go on from the last page.
      const from = create(CheckpointSchema, position ?? {});
      from.collections = { ...from.collections };
      from.pagingSince = { ...from.pagingSince };
      for (const c of named) {
        delete from.collections[c];
        delete from.pagingSince[c];
      }
      position = from;
      continue;
    }
    pages.push(page);
    position = page.checkpoint;
    if (!page.hasMore) break;
    check(page.changes.length > 0, "pull: has_more is set but the page is empty");
  }
  return { pages, changes: pages.flatMap((p) => p.changes), checkpoint: position, resynced };
}

/** The latest state per document, folding changes in order. */
export function latestByDocument(changes: Iterable<ChangeEvent>): Map<string, ChangeEvent> {
  const latest = new Map<string, ChangeEvent>();
  for (const c of changes) latest.set(`${c.collection}/${c.documentId}`, c);
  return latest;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls fn until it returns a value other than undefined, or fails after timeoutMs. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new CheckFailure(`${what}: not true after ${timeoutMs} ms${detail}`);
    }
    await sleep(everyMs);
  }
}
