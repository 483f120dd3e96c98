// Node-only transports (node:http / node:http2 under the hood): gRPC over
// HTTP/2, plus Connect and gRPC-Web over Node's own HTTP stack. Imported only
// from the Node entry (client/src/node.ts), never from the browser build.
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { GoawaySafeSessionManager } from "./http2-sessions.js";
import type { TransportKind } from "./index.js";

export function createNodeTransport(kind: TransportKind, baseUrl: string, options: { useBinaryFormat?: boolean } = {}): Transport {
  const useBinaryFormat = options.useBinaryFormat ?? true;
  switch (kind) {
    case "grpc":
      return createGrpcTransport({ baseUrl, useBinaryFormat, sessionManager: new GoawaySafeSessionManager(baseUrl) });
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat });
    case "connect":
      return createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat });
  }
}
