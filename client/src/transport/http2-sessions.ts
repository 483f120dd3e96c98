// connect-node's session manager answers a GOAWAY on an idle HTTP/2 session by
// destroying it with an error that Node raises later, once the socket has
// closed. A request made in between moves the manager to a new session and
// drops its listeners from the old one, so that late error reaches the process
// as an uncaught exception and kills it (connect-es#1768, open upstream). Our
// server sends exactly that GOAWAY whenever it shuts down gracefully, and so do
// load balancers on idle connections: every session this manager opens keeps a
// listener that takes the late error off the process. Errors while the
// manager still listens reach it as before; streams carry their own.
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
