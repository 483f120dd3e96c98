// Runs a server under test (by default the reference server) as a child
// process, over the wire only: the suite never imports server code.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * The reference server's command line; POCKET_REFERENCE_SERVER overrides it.
 * From the repository's sources, its CLI through tsx; installed (the
 * @pocket-sync/conformance package), the pocket-sync-server bin of
 * @pocket-sync/server, a dependency: the suite starts it, never imports it.
 */
export function referenceServerCommand(): string[] {
  const override = process.env.POCKET_REFERENCE_SERVER;
  if (override) return override.split(/\s+/).filter(Boolean);
  if (import.meta.url.endsWith(".ts")) return [process.execPath, "--import", "tsx", join(ROOT, "server/src/serve/cli.ts")];
  const manifest = createRequire(import.meta.url).resolve("@pocket-sync/server/package.json");
  const { bin } = JSON.parse(readFileSync(manifest, "utf8")) as { bin: Record<string, string> };
  return [process.execPath, join(dirname(manifest), bin["pocket-sync-server"]!)];
}

export interface ReferenceServerOptions {
  /** Lines of the token file: `token principal [collections=a,b] [readonly]`. */
  readonly tokens?: readonly string[];
  /** The --conflict-strategy spec, such as `report,lww=last-write-wins`. */
  readonly conflictStrategy?: string;
  readonly tombstoneRetentionMs?: number;
  /** Idempotency records and merge bases outlive tombstones (--record-retention-ms). */
  readonly recordRetentionMs?: number;
  readonly purgeIntervalMs?: number;
  readonly heartbeatMs?: number;
  /** The --index spec: fields indexed for filters, such as `*.list,todos.tag` (§4.12). */
  readonly index?: string;
  readonly extraArgs?: readonly string[];
  readonly command?: readonly string[];
  /** Where to copy the server's output, if anywhere. */
  readonly log?: (chunk: string) => void;
}

/** The flags the suite's own runs give the reference server, and the features they imply. */
export const REFERENCE_SETUP = {
  tokens: ["conformance-token alice", "conformance-token2 bob collections=shared"],
  token: "conformance-token",
  token2: "conformance-token2",
  conflictStrategy: "report,lww=last-write-wins,serverwins=server-wins,clientwins=client-wins,merged=merge",
  // Tombstones go within seconds, so the purge cases finish fast, yet
  // outlive any case that reads back a tombstone it just wrote (at 300 ms,
  // basic/update-after-delete failed on a loaded machine); idempotency
  // records and merge bases stay longer than any case (its timeout is a
  // minute), so a retry or a merge slowed down by a loaded machine is still
  // judged against them, and purges scan no more records than that.
  tombstoneRetentionMs: 3000,
  recordRetentionMs: 120_000,
  purgeIntervalMs: 100,
  heartbeatMs: 1000,
  // The fields the filters suite filters on, in every collection
  // (reference-server.features.yaml, filters.fields).
  index: "*.list,*.tag",
} as const;

export class ServerProcess {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), "pocket-conformance-server-"));
  output = "";
  url = "";

  constructor(private readonly options: ReferenceServerOptions = {}) {}

  async start(): Promise<string> {
    const o = this.options;
    // LevelDB, as the server runs by default: its commits wait for I/O, so
    // concurrent pushes share commit groups as they do in production (the
    // memory storage commits within one turn of the event loop).
    const args: string[] = ["--port", "0", "--host", "127.0.0.1", "--storage", "level", "--data-dir", join(this.dir, "data"), "--log-level", "warn"];
    if (o.tokens) {
      const file = join(this.dir, "tokens");
      writeFileSync(file, `${o.tokens.join("\n")}\n`);
      args.push("--token-file", file);
    }
    if (o.conflictStrategy) args.push("--conflict-strategy", o.conflictStrategy);
    if (o.tombstoneRetentionMs !== undefined) args.push("--tombstone-retention-ms", String(o.tombstoneRetentionMs));
    if (o.recordRetentionMs !== undefined) args.push("--record-retention-ms", String(o.recordRetentionMs));
    if (o.purgeIntervalMs !== undefined) args.push("--purge-interval-ms", String(o.purgeIntervalMs));
    if (o.heartbeatMs !== undefined) args.push("--heartbeat-ms", String(o.heartbeatMs));
    if (o.index !== undefined) args.push("--index", o.index);
    args.push(...(o.extraArgs ?? []));
    const [command, ...prefix] = o.command ?? referenceServerCommand();
    const child = spawn(command!, [...prefix, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    this.url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not print "listening on URL" within 30 s:\n${this.output}`)), 30_000);
      const onData = (chunk: Buffer) => {
        const text = chunk.toString();
        this.output += text;
        o.log?.(text);
        const match = /listening on (http:\/\/\S+)/.exec(this.output);
        if (match) {
          clearTimeout(timer);
          resolveUrl(match[1]!.replace(/\/$/, ""));
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the server exited (${code ?? signal}) before listening:\n${this.output}`));
      });
    });
    return this.url;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The server-features.yaml text matching REFERENCE_SETUP. */
export const REFERENCE_FEATURES_FILE = join(ROOT, "conformance/reference-server.features.yaml");
