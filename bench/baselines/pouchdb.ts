// PouchDB 9 and express-pouchdb from bench/peers (their own package.json and
// lockfile: the project does not depend on them). CommonJS packages, loaded
// with require from that directory.
import { createRequire } from "node:module";
import { join } from "node:path";
import { PEERS_DIR } from "../harness/peers.js";

export const peerRequire = createRequire(join(PEERS_DIR, "package.json"));

export interface PouchDatabase {
  bulkDocs(docs: object[]): Promise<unknown[]>;
  info(): Promise<{ doc_count: number }>;
  destroy(): Promise<unknown>;
  close(): Promise<unknown>;
  replicate: {
    to(target: string, options?: object): Promise<{ ok: boolean; docs_written: number }>;
    from(source: string, options?: object): Promise<{ ok: boolean; docs_written: number }>;
  };
}

export interface PouchConstructor {
  new (name: string, options?: object): PouchDatabase;
  defaults(options: object): PouchConstructor;
}

export function loadPouchDB(): PouchConstructor {
  return peerRequire("pouchdb") as PouchConstructor;
}
