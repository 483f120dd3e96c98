// One cleartext port for HTTP/1.1 and HTTP/2 (h2c with prior knowledge, as
// gRPC clients speak it). Node's servers do one or the other without TLS, so
// we peek at the first bytes of each connection: the HTTP/2 client preface
// starts with "PRI * HTTP/2.0", which no HTTP/1.1 request line does.
import http from "node:http";
import type http2 from "node:http2";
import net from "node:net";
import { ConnectionTracker, type ConnectionLimits } from "./connections.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** Repeated warnings (refused connections, failed accepts) are summed up at most this often. */
const WARN_EVERY_MS = 10_000;

export interface ListenOptions extends ConnectionLimits {
  /** Connections open at once; more are closed as soon as they are accepted. */
  readonly maxConnections: number;
  readonly warn: (message: string) => void;
}

export interface DualServer {
  readonly server: net.Server;
  /** Open connections, in any state. */
  readonly connections: number;
  /**
   * Stops accepting connections; those open finish what they have begun and
   * close; after `graceMs` the rest are cut. Resolves with how many were cut.
   */
  close(graceMs: number): Promise<number>;
}

export function serveHttp1And2(http2Server: http2.Http2Server, onRequest: http.RequestListener, options: ListenOptions): DualServer {
  const tracker = new ConnectionTracker(options);

  const http1 = http.createServer({ keepAliveTimeout: options.idleTimeoutMs, requestTimeout: 0 }, (req, res) => {
    tracker.http1Request(req, res);
    onRequest(req, res);
  });
  // A client may send its whole request and then close its side (FIN): the
  // request is still answered, then the connection closed. Node's HTTP/1.1
  // server supports this behind this flag, which the raw sockets need too
  // (net.createServer below), or the answer has nowhere to go.
  (http1 as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;

  // The session of a connection handed to the HTTP/2 server is created (and
  // announced) synchronously.
  let identifying: net.Socket | undefined;
  http2Server.on("session", (session) => {
    if (identifying) tracker.http2(identifying, session);
  });
  http2Server.on("stream", (stream, _headers, flags) => tracker.http2Stream(stream, flags));

  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    tracker.accepted(socket);
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
        // Half-closing means nothing in HTTP/2, and a client that has closed
        // its side cannot open flow-control windows again: a stream waiting
        // on one would never notice the client is gone. Close ours too, as
        // Node's own HTTP/2 server does.
        socket.once("end", () => socket.end());
        // The HTTP/2 session reads what we unshifted on the next tick (with
        // socket.read()); resuming here would spill it as unheard 'data'.
        identifying = socket;
        try {
          http2Server.emit("connection", socket);
        } finally {
          identifying = undefined;
        }
      } else {
        tracker.http1(socket);
        http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", sniff);
  });
  server.maxConnections = options.maxConnections;
  const refused = summed((n) =>
    options.warn(`refused ${n} connection${n === 1 ? "" : "s"}: ${options.maxConnections} open, the --max-connections limit`),
  );
  server.on("drop", refused);
  // Accepting fails when the process is out of file descriptors (EMFILE);
  // the server carries on, and the deadlines above free descriptors again.
  const acceptFailed = summed((n, error?: Error) => options.warn(`${n} connection${n === 1 ? "" : "s"} could not be accepted: ${error?.message}`));
  server.on("error", (error) => {
    if (server.listening) acceptFailed(error);
  });

  return {
    server,
    get connections() {
      return tracker.size;
    },
    async close(graceMs) {
      // Connections the kernel has already completed are accepted (then
      // drained like the others) rather than reset with the listening
      // socket: one full turn of the event loop polls for them.
      await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      const cut = await tracker.drain(graceMs);
      await stopped;
      return cut;
    },
  };
}

/**
 * Reports the first event at once, then how many more happened, at most once
 * per WARN_EVERY_MS.
 */
function summed<A extends unknown[]>(report: (count: number, ...args: A) => void): (...args: A) => void {
  let pending = 0;
  let timer: NodeJS.Timeout | undefined;
  let last: A;
  return (...args: A) => {
    last = args;
    if (timer) {
      pending++;
      return;
    }
    report(1, ...args);
    const flush = () => {
      if (pending === 0) {
        timer = undefined;
        return;
      }
      report(pending, ...last);
      pending = 0;
      timer = setTimeout(flush, WARN_EVERY_MS).unref();
    };
    timer = setTimeout(flush, WARN_EVERY_MS).unref();
  };
}
