// The peers the project itself does not depend on (PouchDB, express-pouchdb)
// live in bench/peers with their own lockfile; the bench installs them on
// first use with `npm ci`, and again whenever the lockfile changes.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BENCH_DIR } from "./processes.js";

export const PEERS_DIR = join(BENCH_DIR, "peers");
const MARKER = join(PEERS_DIR, "node_modules", ".bench-lockfile-sha256");

function lockfileHash(): string {
  return createHash("sha256").update(readFileSync(join(PEERS_DIR, "package-lock.json"))).digest("hex");
}

export function peersInstalled(): boolean {
  return existsSync(MARKER) && readFileSync(MARKER, "utf8") === lockfileHash();
}

/** Installs bench/peers from its lockfile unless that exact install is there. */
export function ensurePeers(log: (line: string) => void = () => {}): void {
  if (peersInstalled()) return;
  log("installing the bench's peers (PouchDB, express-pouchdb) with npm ci --prefix bench/peers ...");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  execFileSync(npm, ["ci", "--prefix", PEERS_DIR, "--no-audit", "--no-fund", "--loglevel", "error"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  writeFileSync(MARKER, lockfileHash());
}
