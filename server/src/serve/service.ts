// Push and Pull over Connect: authenticate, validate the request against the
// schema's rules, then hand over to the core. Nothing here decides sync
// semantics. Subscribe has its own route (subscribe-route.ts): a live stream
// is written by the fan-out directly, not through Connect's per-message
// pipeline.
import type { UnknownField } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { PullRequestSchema, PushRequestSchema, SyncService, type PullResponse } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { SyncCore } from "../core/sync-core.js";
import { encodeEvent } from "../storage/change-codec.js";
import { toConnectError } from "./errors.js";
import type { Guard } from "./guard.js";

export interface SyncServiceDeps {
  readonly core: SyncCore;
  readonly guard: Guard;
}

export function syncServiceRoutes({ core, guard }: SyncServiceDeps) {
  return (router: ConnectRouter) =>
    router
      .rpc(SyncService.method.push, async (request, context) => {
        try {
          const principal = await guard.principalOf(context.requestHeader.get("authorization"));
          guard.validate(PushRequestSchema, request);
          return await core.push(principal, request);
        } catch (error) {
          throw toConnectError(error);
        }
      })
      .rpc(SyncService.method.pull, async (request, context) => {
        try {
          const principal = await guard.principalOf(context.requestHeader.get("authorization"));
          guard.validate(PullRequestSchema, request);
          const response = await core.pull(principal, request);
          return answersInBinary(context) ? withStoredBytes(response) : response;
        } catch (error) {
          throw toConnectError(error);
        }
      });
}

/** Whether the response goes out in the protobuf binary codec (a Connect GET names it in the URL). */
function answersInBinary(context: HandlerContext): boolean {
  if (context.requestMethod === "GET") return new URL(context.url).searchParams.get("encoding") === "proto";
  return !(context.requestHeader.get("content-type") ?? "").includes("json");
}

const CHANGES_FIELD = 1; // PullResponse.changes

/**
 * The pulled changes go out as the bytes they were stored as, instead of
 * being encoded again: protobuf-es writes unknown fields verbatim, and a
 * field 1 entry is exactly a `changes` element on the wire.
 */
function withStoredBytes(response: PullResponse): PullResponse {
  response.$unknown = response.changes.map((change): UnknownField => {
    const bytes = encodeEvent(change);
    return { no: CHANGES_FIELD, wireType: WireType.LengthDelimited, data: lengthDelimited(bytes) };
  });
  response.changes = [];
  return response;
}

function lengthDelimited(bytes: Uint8Array): Uint8Array {
  let prefix = 1;
  for (let n = bytes.length; n > 0x7f; n >>>= 7) prefix++;
  const out = new Uint8Array(prefix + bytes.length);
  let at = 0;
  let n = bytes.length;
  while (n > 0x7f) {
    out[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[at++] = n;
  out.set(bytes, at);
  return out;
}
