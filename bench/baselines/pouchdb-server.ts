// Role: a CouchDB-compatible server, express-pouchdb over PouchDB's leveldb
// adapter, in its own process: the peer PouchDB replicates with.
import type { Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPouchDB, peerRequire } from "./pouchdb.js";

let server: Server | undefined;
let dir: string | undefined;

export const handlers = {
  async start(): Promise<string> {
    dir = mkdtempSync(join(tmpdir(), "pocket-bench-couch-"));
    const PouchDB = loadPouchDB().defaults({ prefix: `${dir}/` });
    const express = peerRequire("express") as () => { use(path: string, app: unknown): void; listen(port: number, host: string): Server };
    const expressPouchDB = peerRequire("express-pouchdb") as (db: unknown, options: object) => unknown;
    const app = express();
    app.use("/", expressPouchDB(PouchDB, { mode: "minimumForPouchDB", inMemoryConfig: true, logPath: join(dir, "log.txt") }));
    server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server!.once("listening", resolve));
    const address = server.address();
    if (!address || typeof address === "string") throw new Error("express-pouchdb has no port");
    return `http://127.0.0.1:${address.port}`;
  },
  async close(): Promise<void> {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  },
};
