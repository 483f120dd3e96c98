// One cleartext port for HTTP/1.1 and HTTP/2 (h2c with prior knowledge, as
// gRPC clients speak it). Node's servers do one or the other without TLS, so
// we peek at the first bytes of each connection: the HTTP/2 client preface
// starts with "PRI * HTTP/2.0", which no HTTP/1.1 request line does.
import http from "node:http";
import type http2 from "node:http2";
import net from "node:net";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** How much of a refused request body we read and drop, and for how long. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;
const DRAIN_TIMEOUT_MS = 10_000;
/** A client that never finishes its request must not hold shutdown forever. */
const SHUTDOWN_GRACE_MS = 5_000;

export interface DualServer {
  readonly server: net.Server;
  /** Stops accepting, lets responses in progress finish, then resolves. */
  close(): Promise<void>;
}

/**
 * Counts responses in progress per connection (an HTTP/1.1 socket or an
 * HTTP/2 session), so that shutdown can end idle connections at once and busy
 * ones as soon as their last response is written.
 */
class Connections<C> {
  private readonly busy = new Map<C, number>();
  private closing = false;

  constructor(
    private readonly end: (connection: C) => void,
    private readonly drain: (connection: C) => void = () => {},
  ) {}

  opened(connection: C): void {
    if (!this.busy.has(connection)) this.busy.set(connection, 0);
  }
  gone(connection: C): void {
    this.busy.delete(connection);
  }
  track(connection: C, response: http.ServerResponse | http2.Http2ServerResponse): void {
    this.busy.set(connection, (this.busy.get(connection) ?? 0) + 1);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      // A response can close after its connection did (a vanished client):
      // counting it then would put the dead connection back in the map forever.
      if (!this.busy.has(connection)) return;
      const left = this.busy.get(connection)! - 1;
      this.busy.set(connection, left);
      if (this.closing && left === 0) this.end(connection);
    };
    response.once("finish", finish);
    response.once("close", finish);
  }
  get isClosing(): boolean {
    return this.closing;
  }
  closeAll(): void {
    this.closing = true;
    for (const [connection, busy] of this.busy) (busy === 0 ? this.end : this.drain)(connection);
  }
}

export function serveHttp1And2(http2Server: http2.Http2Server, onRequest: http.RequestListener): DualServer {
  const sockets = new Connections<net.Socket>((socket) => socket.destroySoon());
  const sessions = new Connections<http2.Http2Session>(
    (session) => session.destroy(),
    // GOAWAY: no new streams; the session ends when its streams do.
    (session) => session.close(),
  );

  const http1 = http.createServer((req, res) => {
    sockets.track(req.socket, res);
    if (sockets.isClosing) res.setHeader("connection", "close");
    // A response sent before the request body was read (a refused oversized
    // message) leaves the rest of that body on the wire. The client must not
    // reuse the connection (so we say "Connection: close"), and must be able to
    // finish writing without a reset (so we read and drop the rest, bounded).
    const socket = req.socket;
    const writeHead = res.writeHead;
    res.writeHead = function (this: http.ServerResponse, ...args: Parameters<typeof writeHead>) {
      if (!req.complete) this.setHeader("connection", "close");
      return writeHead.apply(this, args);
    } as typeof writeHead;
    res.once("finish", () => {
      if (req.complete) return;
      let drained = 0;
      const giveUp = setTimeout(() => socket.destroy(), DRAIN_TIMEOUT_MS).unref();
      req.on("data", (chunk: Buffer) => {
        drained += chunk.length;
        if (drained > MAX_DRAIN_BYTES) socket.destroy();
      });
      req.once("end", () => clearTimeout(giveUp));
      req.resume();
    });
    onRequest(req, res);
  });
  // Long-lived streams are kept alive by heartbeats; no request timeout.
  http1.requestTimeout = 0;
  http1.keepAliveTimeout = 65_000;
  // A client may send its whole request and then close its side (FIN): the
  // request is still answered, then the connection closed. Node's HTTP/1.1
  // server supports this behind this flag, which the raw sockets need too
  // (net.createServer below), or the answer has nowhere to go.
  (http1 as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;

  http2Server.on("session", (session) => {
    sessions.opened(session);
    session.once("close", () => sessions.gone(session));
  });
  // The HTTP/1.1 requests are dispatched through this server too; only real
  // HTTP/2 requests have a stream.
  http2Server.on("request", (req, res) => {
    const session = (req as Partial<http2.Http2ServerRequest>).stream?.session;
    if (session) sessions.track(session, res);
  });

  const all = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    all.add(socket);
    socket.once("close", () => {
      all.delete(socket);
      sockets.gone(socket);
    });
    socket.on("error", () => socket.destroy());
    // Closed before saying anything.
    const endedEarly = () => socket.destroy();
    socket.once("end", endedEarly);
    let seen = Buffer.alloc(0);
    const sniff = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const prefix = PREFACE.subarray(0, Math.min(seen.length, PREFACE.length));
      const isHttp2 = seen.subarray(0, prefix.length).equals(prefix);
      if (isHttp2 && seen.length < PREFACE.length) return; // need more bytes to decide
      socket.off("data", sniff);
      socket.off("end", endedEarly);
      socket.pause();
      socket.unshift(seen);
      if (isHttp2) {
        // The HTTP/2 session reads what we unshifted on the next tick (with
        // socket.read()); resuming here would spill it as unheard 'data'.
        http2Server.emit("connection", socket);
      } else {
        sockets.opened(socket);
        http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", sniff);
  });

  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        sockets.closeAll();
        sessions.closeAll();
        setTimeout(() => {
          for (const socket of all) socket.destroy();
        }, SHUTDOWN_GRACE_MS).unref();
      }),
  };
}
