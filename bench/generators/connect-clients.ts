// Connect clients for the load generators: binary protobuf over HTTP/2 (one
// connection per transport) or HTTP/1.1, as connect-node speaks them, with its
// default compression negotiation (it accepts gzip), like a real client.
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { SyncService } from "../../gen/ts/pocket/sync/v1/sync_pb.js";

export type HttpVersion = "1.1" | "2";
export type SyncClient = Client<typeof SyncService>;

/** A client on its own transport: over HTTP/2, its own connection. */
export function syncClient(url: string, httpVersion: HttpVersion = "2"): SyncClient {
  return createClient(SyncService, createConnectTransport({ baseUrl: url, httpVersion, useBinaryFormat: true }));
}
