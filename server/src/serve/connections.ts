// Every accepted connection from its first byte to its close: the deadlines
// that keep a silent or stalling peer from holding a socket (and a file
// descriptor) for ever, and the graceful drain at shutdown.
//
// Deadlines are fixed, not inactivity timers, where a peer could otherwise
// keep a useless connection alive by trickling bytes or PINGs: the request
// head (or HTTP/2 preface and SETTINGS) must be complete within
// `headersTimeoutMs` of the connection opening, and an HTTP/2 session with no
// stream is closed `idleTimeoutMs` after its last stream ended. A request body
// must not stall for `bodyTimeoutMs`. Nothing limits a request once its body
// has arrived: Subscribe streams live as long as the client wants, kept alive
// by their heartbeats.
import http2 from "node:http2";
import type http from "node:http";
import type net from "node:net";

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM } = http2.constants;

export interface ConnectionLimits {
  /** A connection must complete a request head, or the HTTP/2 preface and SETTINGS, within this. */
  readonly headersTimeoutMs: number;
  /** A request body that sends nothing for this long is cut off. */
  readonly bodyTimeoutMs: number;
  /**
   * An HTTP/2 session without streams, or an HTTP/1.1 connection between
   * requests, is closed after this.
   */
  readonly idleTimeoutMs: number;
}

/**
 * GOAWAY with the largest stream id, sent ahead of the real one: "open no
 * more streams", while those already on their way are still served (RFC 9113
 * §6.8, the "shutdown notice" of nghttp2). Node's session.goaway() cannot send
 * it: any GOAWAY it sends makes nghttp2 silently ignore every later stream,
 * so a request the client sent a moment before would hang or be refused.
 */
const SHUTDOWN_NOTICE = Buffer.from([0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
/** At shutdown, how long a connection that has not said which protocol it speaks may still do so. */
const UNHEARD_AT_SHUTDOWN_MS = 1_000;
/** How long to wait for the PING answer that proves the client has read the notice. */
const NOTICE_ROUND_TRIP_MS = 2_000;

interface Tracked {
  protocol: "unknown" | "http1" | "http2";
  session?: http2.ServerHttp2Session;
  /** HTTP/1.1: responses not yet finished; HTTP/2: open streams. */
  active: number;
  /** HTTP/1.1: responses in progress, told to close the connection at shutdown. */
  responses?: Set<http.ServerResponse>;
  /** HTTP/1.1: requests answered so far. */
  served: number;
  /** HTTP/2: the client has acknowledged the session's SETTINGS. */
  settingsAcknowledged?: boolean;
  /** HTTP/2: closing (the shutdown notice is out, or waits for the SETTINGS acknowledgement). */
  goingAway?: boolean;
  deadline?: NodeJS.Timeout;
}

export class ConnectionTracker {
  private readonly connections = new Map<net.Socket, Tracked>();
  private readonly bySession = new WeakMap<http2.Http2Session, net.Socket>();
  private closing = false;
  private onEmpty: (() => void) | undefined;

  constructor(private readonly limits: ConnectionLimits) {}

  /** Open connections, whatever their protocol or state. */
  get size(): number {
    return this.connections.size;
  }

  accepted(socket: net.Socket): void {
    const tracked: Tracked = { protocol: "unknown", active: 0, served: 0 };
    this.connections.set(socket, tracked);
    this.arm(tracked, this.limits.headersTimeoutMs, () => socket.destroy());
    socket.once("close", () => {
      this.disarm(tracked);
      this.connections.delete(socket);
      if (this.connections.size === 0) this.onEmpty?.();
    });
  }

  /** The connection speaks HTTP/1.1; the first request head is still due by the accept deadline. */
  http1(socket: net.Socket): void {
    const tracked = this.connections.get(socket);
    if (!tracked) return;
    tracked.protocol = "http1";
    tracked.responses = new Set();
  }

  http1Request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket;
    const tracked = this.connections.get(socket);
    if (!tracked) return;
    this.disarm(tracked);
    tracked.active++;
    tracked.responses!.add(res);
    if (this.closing) res.setHeader("connection", "close");
    // RFC 9112 §6.3: only these headers announce a body.
    const hasBody = req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
    let receiving = hasBody;
    const received = () => {
      if (!receiving) return;
      receiving = false;
      if (!socket.destroyed) socket.setTimeout(0);
    };
    if (hasBody) {
      // An inactivity timer is right here: the body must keep flowing.
      req.setTimeout(this.limits.bodyTimeoutMs, () => socket.destroy());
      req.once("end", received);
    }
    let done = false;
    const finished = () => {
      if (done) return;
      done = true;
      received();
      tracked.responses!.delete(res);
      tracked.served++;
      tracked.active--;
      if (tracked.active > 0 || socket.destroyed) return;
      if (this.closing) socket.destroySoon();
      // Node's keep-alive timer closes a connection idle this long; this one
      // bounds a next request head trickled in byte by byte.
      else this.arm(tracked, this.limits.idleTimeoutMs + this.limits.headersTimeoutMs, () => socket.destroy());
    };
    res.once("finish", finished);
    res.once("close", finished);
  }

  /** The connection speaks HTTP/2 through this session. */
  http2(socket: net.Socket, session: http2.ServerHttp2Session): void {
    const tracked = this.connections.get(socket);
    if (!tracked) return;
    tracked.protocol = "http2";
    tracked.session = session;
    this.bySession.set(session, socket);
    session.once("localSettings", () => (tracked.settingsAcknowledged = true));
    // The preface is in; its SETTINGS frame ends the handshake.
    session.once("remoteSettings", () => {
      if (tracked.active === 0) this.idle(socket, tracked);
    });
    if (this.closing) this.goAway(socket, tracked);
  }

  http2Stream(stream: http2.ServerHttp2Stream, flags: number): void {
    const socket = this.bySession.get(stream.session!);
    const tracked = socket && this.connections.get(socket);
    if (!socket || !tracked) return;
    this.disarm(tracked);
    tracked.active++;
    if (!(flags & NGHTTP2_FLAG_END_STREAM)) {
      stream.setTimeout(this.limits.bodyTimeoutMs, () => stream.close(NGHTTP2_CANCEL));
      stream.once("end", () => stream.setTimeout(0));
    }
    stream.once("close", () => {
      tracked.active--;
      if (tracked.active === 0 && !socket.destroyed) this.idle(socket, tracked);
    });
  }

  /**
   * Graceful shutdown: connections finish the requests they have begun (or
   * sent, for HTTP/2) and close. Resolves once every connection is gone, or
   * after `graceMs` by cutting the rest; resolves with how many were cut.
   */
  async drain(graceMs: number): Promise<number> {
    this.closing = true;
    for (const [socket, tracked] of this.connections) {
      if (tracked.protocol === "http2") this.goAway(socket, tracked);
      else if (tracked.protocol === "http1") {
        // Between requests: closed. A first request on its way is answered,
        // with "Connection: close" (the headers deadline bounds the wait).
        if (tracked.active === 0 && tracked.served > 0) socket.destroySoon();
        for (const res of tracked.responses!) if (!res.headersSent) res.setHeader("connection", "close");
      } else {
        // Not a word yet: a request may be on its way (it is served), or
        // this is an idle preconnect, which must not hold the shutdown.
        this.arm(tracked, UNHEARD_AT_SHUTDOWN_MS, () => socket.destroy());
      }
    }
    if (this.connections.size === 0) return 0;
    const empty = new Promise<void>((resolve) => (this.onEmpty = resolve));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), graceMs)));
    const outcome = await Promise.race([empty, graceOver]);
    clearTimeout(timer);
    if (outcome !== "late") return 0;
    const cut = this.connections.size;
    for (const socket of this.connections.keys()) socket.destroy();
    await empty;
    return cut;
  }

  /** Nothing in progress: an HTTP/2 session gets its idle deadline. */
  private idle(socket: net.Socket, tracked: Tracked): void {
    if (this.closing) {
      // Already going away (the PING answer closes it), or about to.
      this.goAway(socket, tracked);
      return;
    }
    this.arm(tracked, this.limits.idleTimeoutMs, () => this.goAway(socket, tracked));
  }

  /**
   * Closes an HTTP/2 session without refusing a stream the client may have
   * sent already: the shutdown notice, a PING, and once the client has
   * answered it (so has read the notice, and sends no new stream) the real
   * GOAWAY; the session ends when its last stream does.
   *
   * A client library may still refuse, itself, a stream it had queued but
   * not yet written when the notice arrived (nghttp2 starts no stream once a
   * GOAWAY is in); that stream never left the client, which may retry it.
   */
  private goAway(socket: net.Socket, tracked: Tracked): void {
    const session = tracked.session;
    if (!session || tracked.goingAway || session.closed || session.destroyed) return;
    tracked.goingAway = true;
    this.disarm(tracked);
    let done = false;
    const close = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!session.closed && !session.destroyed) session.close();
    };
    const timer = setTimeout(close, NOTICE_ROUND_TRIP_MS);
    const notify = () => {
      if (done || session.closed || session.destroyed || !socket.writable) return close();
      // The session writes whole frames, one write at a time, on this
      // socket: the notice lands between two of them.
      socket.write(SHUTDOWN_NOTICE);
      if (!session.ping(close)) close();
    };
    // A server's first frame must be its SETTINGS: once the client has
    // acknowledged them, they are out.
    if (tracked.settingsAcknowledged) notify();
    else session.once("localSettings", notify);
  }

  private arm(tracked: Tracked, ms: number, expire: () => void): void {
    this.disarm(tracked);
    const deadline = setTimeout(() => {
      // Timers run before I/O: after a busy spell, bytes that arrived in
      // time may still wait to be read. Read them first, then decide.
      setImmediate(() => {
        if (tracked.deadline === deadline) expire();
      });
    }, ms);
    tracked.deadline = deadline;
  }

  private disarm(tracked: Tracked): void {
    if (tracked.deadline) clearTimeout(tracked.deadline);
    tracked.deadline = undefined;
  }
}
