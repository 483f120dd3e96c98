// One process, one race: an HTTP/2 server sends GOAWAY to an idle session and
// the client issues its next request the moment it hears it. Run with "plain"
// (connect-node's manager) or "safe" (ours); prints the second answer's status.
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Http2SessionManager } from "@connectrpc/connect-node";
import { GoawaySafeSessionManager } from "../transport/http2-sessions.js";

function answer(stream: http2.ClientHttp2Stream): Promise<number> {
  return new Promise((resolve, reject) => {
    let status = 0;
    stream.on("response", (headers) => (status = Number(headers[":status"])));
    stream.on("error", reject);
    stream.resume();
    stream.on("end", () => resolve(status));
    stream.end();
  });
}

const server = http2.createServer();
const serverSessions: http2.ServerHttp2Session[] = [];
server.on("session", (session) => serverSessions.push(session));
server.on("stream", (stream) => {
  stream.respond({ ":status": 200 });
  stream.end("ok");
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const manager = process.argv[2] === "safe" ? new GoawaySafeSessionManager(url) : new Http2SessionManager(url);
const first = await manager.request("POST", "/first", {}, {});
const session = first.session!;
console.log(`first: ${await answer(first)}`);

const second = new Promise<number>((resolve, reject) => {
  session.once("goaway", () => {
    manager.request("POST", "/second", {}, {}).then(answer).then(resolve, reject);
  });
});
serverSessions[0]!.goaway(http2.constants.NGHTTP2_NO_ERROR);
console.log(`second: ${await second}`);
// Long enough for the first session's socket to close and its late error to land.
await new Promise((resolve) => setTimeout(resolve, 300));
manager.abort();
for (const s of serverSessions) s.destroy();
server.close();
console.log("exited cleanly");
