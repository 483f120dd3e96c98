// Filtered catch-up (issue 13, PROTOCOL §4.10–4.12): a client with no
// checkpoint pulls a whole collection, and another pulls only the documents
// of one list (a filter on an indexed field that 1 % of them match). The
// index is what makes the second cost the documents it returns, not the size
// of the collection; the ratio of the two costs says whether it does. The
// cost is the CPU the server spends (plus, on PostgreSQL, its backends'):
// on a shared machine wall time also measures the neighbours.
import { HOT_LIST, hotCount, type ListSpread } from "../data.js";
import type { PullOutcome, PullPlan, PushOutcome } from "../generators/wire.js";
import { CpuMeter } from "../harness/proc.js";
import { cpuBetween, PostgresBackends } from "../harness/postgres-backends.js";
import { dropSchema, settleSchema } from "../harness/postgres-schema.js";
import { startWorker } from "../harness/processes.js";
import { interleave } from "../harness/rounds.js";
import type { BenchServer } from "../harness/server-process.js";
import { benchPostgresUrl } from "./cluster.js";
import { filteredMetrics, type CatchUpCost, type Measured, type StorageName } from "./filtered-metrics.js";
import type { BenchContext, Metric, Workload } from "./types.js";

const COLLECTION = "todos";
const FIELD = "list";

/** `repeats` catch-ups back to back, between two readings of the CPU clocks. */
async function measure(repeats: number, server: BenchServer, backends: PostgresBackends | undefined, pull: () => Promise<PullOutcome>): Promise<CatchUpCost> {
  const meter = new CpuMeter([server.pid]);
  const before = await backends?.read();
  let wallMs = 0;
  let pages = 0;
  for (let i = 0; i < repeats; i++) {
    const outcome = await pull();
    wallMs += outcome.ms;
    pages += outcome.pages;
  }
  const serverSeconds = meter.seconds();
  const databaseSeconds = backends && before ? cpuBetween(before, await backends.read()) : 0;
  return { wallMs: wallMs / repeats, serverCpuMs: (serverSeconds * 1000) / repeats, databaseCpuMs: (databaseSeconds * 1000) / repeats, pages: pages / repeats };
}

interface Storage extends StorageName {
  readonly args: readonly string[];
  /** Reads the database's CPU for the server (PostgreSQL on this machine). */
  backends?(): Promise<PostgresBackends | undefined>;
  /** After loading: brings the storage to the state it reaches on its own some time later. */
  settle?(): Promise<void>;
  cleanUp?(): Promise<void>;
}

function postgresStorage(url: string): Storage {
  const schema = `bench_filtered_${process.pid}_${Date.now()}`;
  return {
    id: "postgres",
    name: "PostgreSQL",
    args: ["--storage", "postgres", "--postgres-url", url, "--postgres-schema", schema],
    backends: () => PostgresBackends.connect(url, schema),
    settle: () => settleSchema(url, schema),
    cleanUp: () => dropSchema(url, schema),
  };
}

async function onStorage(context: BenchContext, storage: Storage): Promise<Measured> {
  const { documents, hotEvery, lists, page, repeats } = context.config.filtered;
  const spread: ListSpread = { hotEvery, lists };
  const hot = hotCount(0, documents, spread);
  const [server, wire] = await Promise.all([
    context.startServer({ label: `filtered-${storage.id}`, args: [...storage.args, "--index", `${COLLECTION}.${FIELD}`] }),
    startWorker("generators/wire.ts", `filtered pull client (${storage.id})`),
  ]);
  let backends: PostgresBackends | undefined;
  let rounds: Record<string, CatchUpCost[]>;
  let fillMs: number;
  try {
    backends = await storage.backends?.();
    await wire.call("connect", server.url);
    context.log(`filtered (${storage.name}): loading ${documents} documents, ${hot} of them in list "${HOT_LIST}", the rest over ${lists} other lists`);
    const filled = await wire.call<PushOutcome>("fill", {
      collection: COLLECTION, clientId: "loader", idPrefix: "d", from: 0, count: documents, batch: 500, concurrency: 2, lists: spread,
    });
    if (filled.accepted !== documents) throw new Error(`filtered fill: ${filled.accepted} of ${documents} accepted`);
    fillMs = filled.ms;
    await storage.settle?.();
    const full: PullPlan = { collections: [COLLECTION], limit: page };
    const filtered: PullPlan = {
      ...full,
      filters: { [COLLECTION]: [{ field: FIELD, values: [JSON.stringify(HOT_LIST)] }] },
      expect: { field: FIELD, value: HOT_LIST },
    };
    rounds = await interleave(
      context.config,
      {
        full: () =>
          measure(1, server, backends, async () => {
            const outcome = await wire.call<PullOutcome>("pull", full);
            if (outcome.changes !== documents) throw new Error(`full catch-up pulled ${outcome.changes} of ${documents}`);
            return outcome;
          }),
        filtered: () =>
          measure(repeats, server, backends, async () => {
            const outcome = await wire.call<PullOutcome>("pull", filtered);
            if (outcome.unexpected !== 0) throw new Error(`filtered catch-up returned ${outcome.unexpected} documents outside list "${HOT_LIST}"`);
            if (outcome.documents !== hot) throw new Error(`filtered catch-up pulled ${outcome.documents} of the ${hot} documents in list "${HOT_LIST}"`);
            return outcome;
          }),
      },
      (line) => context.log(`filtered (${storage.name}): ${line}`),
    );
  } finally {
    try {
      await backends?.close();
      await Promise.all([wire.stop(), context.stopServer(server)]);
    } finally {
      await storage.cleanUp?.(); // once the server is gone, even if stopping it failed
    }
  }
  return filteredMetrics(storage, rounds, { documents, hot, fillMs }, backends !== undefined);
}

export const filteredCatchUp: Workload = {
  id: "filtered",
  title: "Filtered catch-up",
  async run(context) {
    const { documents, hotEvery, lists, page, repeats } = context.config.filtered;
    const url = benchPostgresUrl();
    const storages: Storage[] = [{ id: "level", name: "LevelDB", args: [] }, ...(url ? [postgresStorage(url)] : [])];
    const metrics: Metric[] = [];
    const extra: Record<string, string | number> = {};
    for (const storage of storages) {
      const measured = await onStorage(context, storage);
      metrics.push(...measured.metrics);
      Object.assign(extra, measured.context);
    }
    if (!url) extra.PostgreSQL = "not measured: set POCKET_BENCH_POSTGRES_URL (bash scripts/start-postgres.sh prints one)";
    return {
      id: "filtered",
      title: "Filtered catch-up",
      method:
        `The real server, started with \`--index ${COLLECTION}.${FIELD}\`, is loaded by a client process with ${documents} documents in one ` +
        `collection (pushes of 500, 2 in flight): one in ${hotEvery} has \`"${FIELD}": "${HOT_LIST}"\`, spread evenly through the collection, ` +
        `the others cycle through ${lists} other lists. Then a client process with no checkpoint pulls, in pages of ${page}, either the whole ` +
        `collection (full catch-up) or only the documents of list "${HOT_LIST}" (a filter on \`${FIELD}\`, filtered catch-up), checking each ` +
        `answer. Full and filtered take turns; a filtered round is ${repeats} catch-ups back to back (its CPU would otherwise span few of the ` +
        "kernel's 10 ms accounting ticks), reported per catch-up. The cost is the server's CPU time from /proc, on PostgreSQL plus that of " +
        "the server's backends (found by their application_name; the database runs on the same machine, and its tables are vacuumed and " +
        "analyzed after loading, as autovacuum would); wall time is timed in the client.",
      metrics,
      context: extra,
      profiles: context.takeProfiles(),
    };
  },
};
