// Transports that run in browsers and in Node 20+ (both have fetch): the
// Connect protocol and gRPC-Web. Nothing here imports a Node module; gRPC
// (HTTP/2, Node only) lives in ./node.ts, reached only from the Node entry.
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";

/** "grpc" needs Node (HTTP/2): use the Node entry (client/src/node.ts). */
export type TransportKind = "connect" | "grpc-web" | "grpc";

export interface TransportOptions {
  /** Binary protobuf (default) or JSON on the wire. */
  readonly useBinaryFormat?: boolean;
  /** A fetch to use instead of globalThis.fetch (e.g. to set credentials). */
  readonly fetch?: typeof globalThis.fetch;
}

export function createWebTransport(kind: "connect" | "grpc-web", baseUrl: string, options: TransportOptions = {}): Transport {
  const common = {
    baseUrl,
    useBinaryFormat: options.useBinaryFormat ?? true,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  return kind === "grpc-web" ? createGrpcWebTransport(common) : createConnectTransport(common);
}
