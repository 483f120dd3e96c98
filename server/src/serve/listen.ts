// One cleartext port for HTTP/1.1 and HTTP/2 (h2c with prior knowledge, as
// gRPC clients speak it). Node's servers do one or the other without TLS, so
// we peek at the first bytes of each connection: the HTTP/2 client preface
// starts with "PRI * HTTP/2.0", which no HTTP/1.1 request line does.
import http from "node:http";
import type http2 from "node:http2";
import net from "node:net";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export interface DualServer {
  readonly server: net.Server;
  readonly http1: http.Server;
  /** Stops accepting, lets open requests finish, then resolves. */
  close(): Promise<void>;
}

export function serveHttp1And2(http2Server: http2.Http2Server, onRequest: http.RequestListener): DualServer {
  const http1 = http.createServer(onRequest);
  // Long-lived streams are kept alive by heartbeats; no request timeout.
  http1.requestTimeout = 0;
  http1.keepAliveTimeout = 65_000;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    let seen = Buffer.alloc(0);
    const sniff = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const prefix = PREFACE.subarray(0, Math.min(seen.length, PREFACE.length));
      const isHttp2 = seen.subarray(0, prefix.length).equals(prefix);
      if (isHttp2 && seen.length < PREFACE.length) return; // need more bytes to decide
      socket.off("data", sniff);
      socket.pause();
      socket.unshift(seen);
      if (isHttp2) {
        // The HTTP/2 session reads what we unshifted on the next tick (with
        // socket.read()); resuming here would spill it as unheard 'data'.
        http2Server.emit("connection", socket);
      } else {
        http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", sniff);
    socket.on("error", () => socket.destroy());
  });
  return {
    server,
    http1,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        http1.closeIdleConnections();
        // Idle keep-alive sockets would hold close() open forever.
        setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, 2_000).unref();
      }),
  };
}
