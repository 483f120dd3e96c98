// Client mode: runs the reference server behind the fault proxy, starts the
// client under test (as often as a case needs, on the same data directory for
// restarts) and drives it over the control protocol.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { FilterSchema } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import type { CaseDef } from "./cases.js";
import { ConflictStrategy, ControlledClient, SyncMode } from "./control.js";
import { FaultProxy } from "./proxy.js";
import { runCase, type CaseResult } from "./report.js";
import { REFERENCE_SETUP, ServerProcess } from "./server-process.js";
import { clientCheck } from "./suites.js";
import { Skip, Wire, type SyncClient } from "./wire.js";

export interface ClientRunOptions {
  readonly command: readonly string[];
  readonly cases: readonly CaseDef[];
  readonly timeoutMs?: number;
  readonly verbose?: boolean;
  readonly onResult?: (r: CaseResult) => void;
  /** Set up the proxy for a case (the suite's own tests break it on purpose). */
  readonly beforeCase?: (proxy: FaultProxy, c: CaseDef) => void;
  /** Stop after the first failed case (mutation testing needs one). */
  readonly bail?: boolean;
  /** Cases run at once, each behind a proxy of its own (default 1). */
  readonly parallel?: number;
}

/** The collections of the reference server configured with each strategy (REFERENCE_SETUP). */
export const STRATEGY_COLLECTIONS = {
  "last-write-wins": "lww",
  "server-wins": "serverwins",
  "client-wins": "clientwins",
  merge: "merged",
} as const;

export interface StartOptions {
  /** A name for logs and the data directory; the same name reopens the same replica. */
  readonly name?: string;
  readonly collections?: readonly string[];
  /** Per collection, the filter to sync it under (§4.10; the suite "filters"). */
  readonly filters?: Readonly<Record<string, MessageInitShape<typeof FilterSchema>>>;
  readonly conflictStrategy?: ConflictStrategy;
  readonly syncMode?: SyncMode;
  readonly startOffline?: boolean;
}

export class ClientContext {
  readonly ns = `k${randomBytes(3).toString("hex")}`;
  readonly clients: ControlledClient[] = [];
  private readonly dirs = new Map<string, string>();
  private runnerSequence = 0n;

  constructor(
    readonly c: CaseDef,
    readonly proxy: FaultProxy,
    /** A client of the upstream server, playing the other users. */
    readonly direct: SyncClient,
    private readonly command: readonly string[],
    private readonly root: string,
    private readonly log: ((line: string) => void) | undefined,
  ) {}

  /** A collection unique to this case (default strategy: report). */
  collection(name = "todos"): string {
    return `${this.ns}_${name}`;
  }

  doc(name: string): string {
    return `${this.ns}-${name}`;
  }

  /** The client id the runner uses when it plays another user. */
  get runnerId(): string {
    return `${this.ns}-runner`;
  }

  nextRunnerSequence(): bigint {
    return ++this.runnerSequence;
  }

  /**
   * Starts the client under test (again, for the same name: a restart on the
   * same data directory) and configures it. Skips the case when the client
   * does not claim the case's suite or lacks the strategy or sync mode.
   */
  async start(options: StartOptions = {}): Promise<ControlledClient> {
    const name = options.name ?? "a";
    let dataDir = this.dirs.get(name);
    if (!dataDir) {
      dataDir = join(this.root, `${this.ns}-${name}`);
      this.dirs.set(name, dataDir);
    }
    const client = new ControlledClient(name, this.command, this.log);
    this.clients.push(client);
    const info = await client.configure({
      case: "configure",
      value: {
        serverUrl: this.proxy.url,
        token: REFERENCE_SETUP.token,
        collections: [...(options.collections ?? [this.collection()])],
        conflictStrategy: options.conflictStrategy ?? ConflictStrategy.UNSPECIFIED,
        clientId: `${this.ns}-${name}-${randomBytes(4).toString("hex")}`,
        dataDir,
        syncMode: options.syncMode ?? SyncMode.PULL,
        startOffline: options.startOffline ?? false,
        filters: { ...options.filters },
      },
    }).catch((error: unknown) => {
      if (error instanceof Error && error.name === "CommandError" && error.message.startsWith("unimplemented")) {
        throw new Skip(`the client does not support this configuration: ${error.message}`);
      }
      throw error;
    });
    if (info.suites.length && !info.suites.includes(this.c.suite)) {
      throw new Skip(`${info.implementation || "the client"} does not claim suite ${this.c.suite}`);
    }
    const strategy = options.conflictStrategy ?? ConflictStrategy.UNSPECIFIED;
    if (strategy !== ConflictStrategy.UNSPECIFIED && !info.conflictStrategies.includes(strategy)) {
      throw new Skip(`${info.implementation || "the client"} does not implement conflict strategy ${ConflictStrategy[strategy]}`);
    }
    const mode = options.syncMode ?? SyncMode.PULL;
    if (mode !== SyncMode.PULL && !info.syncModes.includes(mode)) {
      throw new Skip(`${info.implementation || "the client"} does not implement sync mode ${SyncMode[mode]}`);
    }
    return client;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.kill()));
    for (const dir of this.dirs.values()) rmSync(dir, { recursive: true, force: true });
  }
}

export async function runClientMode(options: ClientRunOptions): Promise<CaseResult[]> {
  const cases = options.cases.filter((c) => c.mode === "client");
  for (const c of cases) {
    if (c.check === undefined) throw new Error(`${c.file}: ${c.id}: client cases need a check, not steps`);
    clientCheck(c);
  }
  const log = options.verbose ? (line: string) => process.stderr.write(`${line}\n`) : undefined;
  const server = new ServerProcess({ ...REFERENCE_SETUP, ...(log ? { log: (t: string) => process.stderr.write(t) } : {}) });
  const upstream = await server.start();
  // A proxy per worker: its records and faults belong to the case it runs.
  const proxies = Array.from({ length: Math.max(1, options.parallel ?? 1) }, () => new FaultProxy(upstream));
  const wire = new Wire();
  const direct = wire.client({ url: upstream, protocol: "connect-proto", httpVersion: "1.1", token: REFERENCE_SETUP.token });
  const root = mkdtempSync(join(tmpdir(), "pocket-conformance-clients-"));
  const results: CaseResult[] = new Array(cases.length);
  let next = 0;
  let failed = false;
  const worker = async (proxy: FaultProxy) => {
    while (next < cases.length && !(options.bail && failed)) {
      const index = next++;
      const c = cases[index]!;
      proxy.reset();
      options.beforeCase?.(proxy, c);
      const ctx = new ClientContext(c, proxy, direct, options.command, root, log);
      const result = await runCase(c, options.timeoutMs ?? 60_000, async (signal) => {
        signal.addEventListener("abort", () => void ctx.cleanup());
        try {
          await clientCheck(c)(ctx, c.params);
        } finally {
          await ctx.cleanup();
        }
      });
      results[index] = result;
      if (result.outcome === "failed") failed = true;
      options.onResult?.(result);
    }
  };
  try {
    await Promise.all(proxies.map((p) => p.start()));
    await Promise.all(proxies.map(worker));
  } finally {
    wire.close();
    await Promise.all(proxies.map((p) => p.stop()));
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
  return results.filter((r) => r !== undefined);
}
