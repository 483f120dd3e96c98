// The judge keeps HTTP/2 sessions to a server that may shut down gracefully or
// sit behind a load balancer that closes idle connections: both send GOAWAY.
// connect-node's session manager destroys an idle session that hears one with
// an error Node raises later; if a request in between has moved the manager to
// a new session, nothing listens any more and the error kills the judge
// (connect-es#1768, open upstream). Each session keeps a listener for it. The
// client has the same guard; the suite speaks only the wire, so it has its own.
import type * as http2 from "node:http2";
import { Http2SessionManager } from "@connectrpc/connect-node";

export class GoawaySafeSessionManager extends Http2SessionManager {
  private readonly guarded = new WeakSet<http2.Http2Session>();

  override async request(...args: Parameters<Http2SessionManager["request"]>): Promise<http2.ClientHttp2Stream> {
    const stream = await super.request(...args);
    const session = stream.session;
    if (session && !this.guarded.has(session)) {
      this.guarded.add(session);
      session.on("error", () => {});
    }
    return stream;
  }
}
