// A request the RPC stack cannot decode is the client's mistake, so it gets
// invalid_argument with ErrorInfo (PROTOCOL §11), never internal: clients retry
// internal forever (§9.6). connect-es decodes the request before any of our
// code or interceptors run, and answers some decoding failures with internal
// (a binary message it cannot parse, a compressed flag without an encoding,
// corrupt gzip), others with a bare invalid_argument.
//
// The hook that sees them is the router's request gate: it runs for every
// protocol before the body is read, and gets the call's context. connect-es
// aborts that context with the error just before it serialises the error for
// the wire, whatever the protocol; a listener on the abort rewrites the error
// in place, so the answer carries the right code and details. The gate also
// refuses a Connect GET whose message is not base64, which connect-es would
// only fail on later as an anonymous internal error.
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { ERROR_DOMAIN, syncError } from "../../../common/src/errors.js";
import { ErrorInfoSchema } from "../../../gen/ts/google/rpc/error_details_pb.js";
import { ErrorReason } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";

/**
 * connect-es 2.2 answers these with internal although only the request's
 * bytes can cause them (they are raised while reading the request, never
 * for a response). Matched by message: the library has no other mark.
 */
const UNDECODABLE_AS_INTERNAL: ReadonlyArray<{ readonly match: (message: string) => boolean; readonly explain: (message: string) => string }> = [
  { match: (m) => m.startsWith("parse binary: "), explain: (m) => `cannot decode the request message: ${m.slice("parse binary: ".length)}` },
  {
    match: (m) => m === "received compressed envelope, but do not know how to decompress",
    explain: () => "a message is flagged as compressed, but the request names no compression",
  },
  { match: (m) => m === "decompression failed", explain: () => "cannot decompress the request message" },
];

/** Router option `requestGate`: runs before each call's body is read. */
export function decodingErrorGate(context: HandlerContext): void {
  refuseUndecodableQuery(context);
  context.signal.addEventListener("abort", () => asClientError(context.signal.reason), { once: true });
}

/**
 * Turns a decoding error of the RPC stack into invalid_argument with ErrorInfo,
 * in place (the stack serialises this very object). Anything else, including
 * every genuine server fault, is left as it is. Safe to call more than once.
 */
export function asClientError(error: unknown): void {
  if (!(error instanceof ConnectError) || hasOurErrorInfo(error)) return;
  if (error.code === Code.InvalidArgument) {
    rewrite(error, error.rawMessage);
    return;
  }
  if (error.code !== Code.Internal) return;
  const known = UNDECODABLE_AS_INTERNAL.find((k) => k.match(error.rawMessage));
  if (known) rewrite(error, known.explain(error.rawMessage));
}

function refuseUndecodableQuery(context: HandlerContext): void {
  if (context.requestMethod !== "GET") return;
  const query = new URL(context.url).searchParams;
  if (query.get("base64") !== "1") return;
  try {
    base64Decode(query.get("message") ?? "");
  } catch {
    throw syncError(Code.InvalidArgument, ErrorReason.INVALID_ARGUMENT, 'the "message" query parameter is not base64');
  }
}

function hasOurErrorInfo(error: ConnectError): boolean {
  return error.findDetails(ErrorInfoSchema).some((info) => info.domain === ERROR_DOMAIN);
}

function rewrite(error: ConnectError, message: string): void {
  const fresh = syncError(Code.InvalidArgument, ErrorReason.INVALID_ARGUMENT, message);
  // Their declared types are readonly; the object is still the one on its way to the wire.
  Object.assign(error, { code: fresh.code, rawMessage: fresh.rawMessage, message: fresh.message, details: fresh.details });
}
