// A request body the server answers before reading it (a message over the
// size limit) is read to its end and dropped first, up to a bound.
//
// A client still writing its request cannot always read an early answer.
// Node's HTTP/2 client counts the unsent part of its own request against its
// session memory (10 MB by default) and resets the stream with
// ENHANCE_YOUR_CALM as soon as response headers arrive, which it reports as
// `internal`; an HTTP/1.1 client sees EPIPE or a reset. Once the body has
// been read to its end, every client reads the refusal (`resource_exhausted`,
// on which ours splits its batch), and the connection stays usable.
import type http from "node:http";
import http2 from "node:http2";

export type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
export type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Reads and drops what is left of a request body. True once it has ended (or
 * there was nothing left); false if more than `maxBytes` came, or the request
 * broke off. The body timeout (connections.ts) ends a body that stalls.
 */
export function discardRest(req: NodeRequest, maxBytes: number): Promise<boolean> {
  if (req.readableEnded) return Promise.resolve(true);
  if (req.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    let dropped = 0;
    const finish = (ended: boolean) => {
      req.off("readable", drop);
      req.off("end", onEnd);
      req.off("close", onClose);
      resolve(ended);
    };
    // Read in paused mode, with read(): Connect may have left its own
    // iterator on the request, unreturned, and a 'readable' listener keeps a
    // stream from flowing to 'data' listeners.
    const drop = () => {
      for (let chunk: Buffer | null; (chunk = req.read() as Buffer | null) !== null; ) {
        dropped += chunk.length;
        if (dropped > maxBytes) return finish(false);
      }
    };
    const onEnd = () => finish(true);
    const onClose = () => finish(req.readableEnded);
    req.on("readable", drop);
    req.once("end", onEnd);
    req.once("close", onClose);
    drop();
  });
}

/** For a body too large to drop: once the answer is out, stop receiving it. */
export function stopUploadAfter(req: NodeRequest, res: NodeResponse): void {
  if ("stream" in req) {
    // RFC 9113 §8.1: a complete response, then RST_STREAM(NO_ERROR) to end the upload.
    const stream = req.stream;
    res.once("finish", () => {
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
  } else {
    // Node's HTTP/1.1 server closes the connection after a "Connection: close" answer.
    res.setHeader("connection", "close");
  }
}
