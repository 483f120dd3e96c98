// Connect routes on fastify, mounted as @connectrpc/connect-fastify mounts
// them but for what a client needs when its request is refused unread (a
// message over the size limit, a malformed envelope): the rest of the body is
// read and dropped before the answer goes out (see unread-body.ts).
//
// connect-fastify also lets Connect stop reading by returning the request's
// async iterator, which destroys the request, and in HTTP/1.1 the socket,
// before the answer is written; here the body is read through an iterator
// that leaves the request open.
import { createConnectRouter, type ConnectRouter, type ConnectRouterOptions } from "@connectrpc/connect";
import * as protoConnect from "@connectrpc/connect/protocol-connect";
import * as protoGrpc from "@connectrpc/connect/protocol-grpc";
import * as protoGrpcWeb from "@connectrpc/connect/protocol-grpc-web";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type { FastifyInstance } from "fastify";
import type http from "node:http";
import { discardRest, stopUploadAfter, type NodeRequest, type NodeResponse } from "./unread-body.js";

export interface ConnectRoutesOptions extends ConnectRouterOptions {
  readonly routes: (router: ConnectRouter) => void;
  /**
   * The most of an unread request body that is read and dropped before the
   * answer goes out; past it, the answer goes out at once and the upload is
   * cut off after it.
   */
  readonly maxDiscardBytes: number;
}

/** A fastify plugin (register it: its content-type parsers stay inside). */
export async function connectRoutes(instance: FastifyInstance, options: ConnectRoutesOptions): Promise<void> {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  // Connect reads and parses bodies itself: fastify must leave them alone.
  const leaveUnread = (_request: unknown, _payload: unknown, done: (error: null, body: undefined) => void) => done(null, undefined);
  instance.addContentTypeParser(
    [
      protoConnect.contentTypeUnaryJson,
      protoConnect.contentTypeStreamJson,
      protoGrpcWeb.contentTypeProto,
      protoGrpcWeb.contentTypeJson,
      protoGrpc.contentTypeProto,
      protoGrpc.contentTypeJson,
    ],
    leaveUnread,
  );
  for (const pattern of [protoGrpc.contentTypeRegExp, protoGrpcWeb.contentTypeRegExp, protoConnect.contentTypeRegExp]) {
    instance.addContentTypeParser(pattern, leaveUnread);
  }

  for (const handler of router.handlers) {
    instance.all(handler.requestPath, async (request, reply) => {
      const req = request.raw as NodeRequest;
      const res = reply.raw as NodeResponse;
      try {
        const answer = await handler({
          ...universalRequestFromNodeRequest(req as http.IncomingMessage, res as http.ServerResponse, undefined, undefined),
          body: unclosingBody(req),
        });
        if (!(await discardRest(req, options.maxDiscardBytes))) stopUploadAfter(req, res);
        // fastify keeps headers set by hooks (CORS) on the reply until it
        // sends; this route writes the raw response itself.
        for (const [name, value] of Object.entries(reply.getHeaders())) {
          if (value !== undefined) res.setHeader(name, value);
        }
        await universalResponseToNodeResponse(answer, res as http.ServerResponse);
      } catch (error) {
        // Writing fails when the client went away, which is no server fault.
        if (!res.destroyed && !req.destroyed) request.log.error({ err: error }, `answering ${handler.method.name} failed`);
      }
    });
  }
}

/** The request body, read without destroying the request when Connect stops early. */
function unclosingBody(req: NodeRequest): AsyncIterable<Uint8Array> {
  return { [Symbol.asyncIterator]: () => req.iterator({ destroyOnReturn: false }) };
}
