// Role: a bare fastify route (the fastify the server uses) that answers a POST
// with fixed bytes: the floor under any Connect handler on the same stack.
import Fastify, { type FastifyInstance } from "fastify";

let app: FastifyInstance | undefined;

export const handlers = {
  async start(path: string, body: Uint8Array, contentType: string): Promise<string> {
    const bytes = Buffer.from(body);
    app = Fastify({ logger: false });
    app.post(path, async (_request, reply) => reply.header("content-type", contentType).send(bytes));
    return app.listen({ port: 0, host: "127.0.0.1" });
  },
  async close(): Promise<void> {
    await app?.close();
    app = undefined;
  },
};
