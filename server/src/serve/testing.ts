// Test helpers: a real server on a free port, and clients speaking each
// protocol variant to it.
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
// Tests stop servers under clients that stay: the client's guard against a
// GOAWAY crashing the process (see there) keeps those tests' process alive.
import { GoawaySafeSessionManager } from "../../../client/src/transport/http2-sessions.js";
import { create } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChangeEventSchema, Operation, SyncService } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { createMemoryStorage } from "../storage/index.js";
import { createSyncServer, type SyncServer, type SyncServerOptions } from "./server.js";

export type ProtocolVariant = "connect-json-h1" | "connect-proto-h2" | "grpc" | "grpc-web-h1" | "grpc-web-h2";
export const PROTOCOL_VARIANTS: readonly ProtocolVariant[] = ["connect-json-h1", "connect-proto-h2", "grpc", "grpc-web-h1", "grpc-web-h2"];

export function transportFor(baseUrl: string, variant: ProtocolVariant = "connect-proto-h2"): Transport {
  switch (variant) {
    case "connect-json-h1":
      return createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false });
    case "connect-proto-h2":
      return createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, sessionManager: new GoawaySafeSessionManager(baseUrl) });
    case "grpc":
      return createGrpcTransport({ baseUrl, sessionManager: new GoawaySafeSessionManager(baseUrl) });
    case "grpc-web-h1":
      return createGrpcWebTransport({ baseUrl, httpVersion: "1.1" });
    case "grpc-web-h2":
      return createGrpcWebTransport({ baseUrl, httpVersion: "2", sessionManager: new GoawaySafeSessionManager(baseUrl) });
  }
}

export function syncClient(baseUrl: string, variant?: ProtocolVariant, token?: string): Client<typeof SyncService> {
  const transport = transportFor(baseUrl, variant);
  if (!token) return createClient(SyncService, transport);
  return createClient(SyncService, withToken(transport, token));
}

function withToken(transport: Transport, token: string): Transport {
  const headerOf = (init?: HeadersInit) => {
    const headers = new Headers(init);
    headers.set("authorization", `Bearer ${token}`);
    return headers;
  };
  return {
    unary: (method, signal, timeoutMs, header, input, contextValues) =>
      transport.unary(method, signal, timeoutMs, headerOf(header), input, contextValues),
    stream: (method, signal, timeoutMs, header, input, contextValues) =>
      transport.stream(method, signal, timeoutMs, headerOf(header), input, contextValues),
  };
}

export interface RunningServer {
  readonly server: SyncServer;
  readonly url: string;
  close(): Promise<void>;
}

export async function startServer(options: SyncServerOptions = {}): Promise<RunningServer> {
  const server = await createSyncServer({ storage: createMemoryStorage(), ...options });
  const url = await server.listen({ port: 0, host: "127.0.0.1" });
  return { server, url, close: () => server.close() };
}

let wall = Date.now();
/** A pushed change with a fresh timestamp; defaults to an insert into "todos". */
export function pushed(documentId: string, document: object | null, clientSequence: number, extra: Partial<{ collection: string; baseRevision: string; operation: Operation }> = {}) {
  const operation = extra.operation ?? (document === null ? Operation.DELETE : extra.baseRevision ? Operation.UPDATE : Operation.INSERT);
  return create(ChangeEventSchema, {
    collection: extra.collection ?? "todos",
    documentId,
    document: document === null ? "" : JSON.stringify(document),
    baseRevision: extra.baseRevision ?? "",
    operation,
    clientSequence: BigInt(clientSequence),
    timestamp: { wallTimeMs: BigInt(wall++), logical: 0 },
  });
}

export function tempDir(prefix = "pocket-sync-"): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Polls `condition` until it holds or `timeoutMs` passes. */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
