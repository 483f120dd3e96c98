// How big each workload runs. "full" is the report (under 15 minutes on two
// cores); "quick" runs everything at tiny sizes with the full number of
// rounds; "smoke" is quick with fewer rounds, for the test that keeps every
// workload from rotting.

export type Mode = "full" | "quick" | "smoke";

export interface BenchConfig {
  readonly mode: Mode;
  readonly warmup: number;
  readonly rounds: number;
  readonly push: { readonly batches: ReadonlyArray<{ readonly batch: number; readonly changes: number }>; readonly probeChanges: number };
  readonly catchUp: { readonly documents: number; readonly page: number };
  /**
   * Filtered against full catch-up (bench/workloads/filtered.ts): one
   * document in `hotEvery` matches the filter, the rest spread over `lists`
   * other lists; each round times `repeats` filtered catch-ups back to back,
   * so that their CPU spans many of the kernel's 10 ms accounting ticks.
   */
  readonly filtered: { readonly documents: number; readonly hotEvery: number; readonly lists: number; readonly page: number; readonly repeats: number };
  readonly connectPull: { readonly documents: number; readonly durationMs: number; readonly processes: number; readonly concurrency: number };
  readonly fanout: {
    readonly subscribers: readonly number[];
    readonly periodMs: number;
    readonly commitsPerRound: number;
    /** How long after a round's last commit deliveries may still arrive before they count as missing. */
    readonly drainMs: number;
    readonly connectionsPerProcess: number;
    /** Generator processes for a subscriber count. */
    processesFor(subscribers: number): number;
  };
  readonly idle: { readonly streams: number; readonly processes: number; readonly connectionsPerProcess: number; readonly settleMs: number };
  readonly conflicts: { readonly clients: number; readonly documents: number; readonly batch: number; readonly pushesPerClient: number; readonly processes: number };
  readonly app: { readonly documents: number; readonly batch: number };
  readonly growth: { readonly sizes: readonly number[]; readonly updates: number; readonly pull: number; readonly fillBatch: number; readonly fillProcesses: number };
  readonly encoding: { readonly windowMs: number };
  /** Servers on one PostgreSQL (bench/workloads/cluster.ts); fan-out capacity only with `fanout` set. */
  readonly cluster: {
    readonly instances: readonly number[];
    readonly seconds: number;
    readonly writers: number;
    /** Rounds of its own, without warm-up (each round starts fresh servers); default the run's. */
    readonly rounds?: number;
    readonly fanout?: { readonly subscribers: number; readonly serverCpu: number };
  };
}

const full: BenchConfig = {
  mode: "full",
  warmup: 1,
  rounds: 5,
  push: {
    batches: [
      { batch: 1, changes: 1_000 },
      { batch: 100, changes: 10_000 },
      { batch: 500, changes: 20_000 },
    ],
    probeChanges: 2_000,
  },
  catchUp: { documents: 100_000, page: 1000 },
  filtered: { documents: 100_000, hotEvery: 100, lists: 199, page: 1000, repeats: 20 },
  connectPull: { documents: 20, durationMs: 2_000, processes: 2, concurrency: 16 },
  fanout: {
    subscribers: [1, 100, 1000, 5000],
    periodMs: 50,
    commitsPerRound: 40,
    drainMs: 5_000,
    connectionsPerProcess: 2,
    processesFor: (k) => (k >= 1000 ? 4 : k >= 100 ? 2 : 1),
  },
  idle: { streams: 4000, processes: 2, connectionsPerProcess: 4, settleMs: 1_000 },
  conflicts: { clients: 10, documents: 100, batch: 10, pushesPerClient: 40, processes: 2 },
  app: { documents: 10_000, batch: 500 },
  growth: { sizes: [1_000, 10_000, 100_000, 1_000_000], updates: 2_000, pull: 10_000, fillBatch: 500, fillProcesses: 2 },
  encoding: { windowMs: 300 },
  cluster: { instances: [1, 2, 3], seconds: 4, writers: 64, rounds: 3, fanout: { subscribers: 600, serverCpu: 0.15 } },
};

const quick: BenchConfig = {
  mode: "quick",
  warmup: 1,
  rounds: 5,
  push: {
    batches: [
      { batch: 1, changes: 50 },
      { batch: 100, changes: 500 },
      { batch: 500, changes: 1_000 },
    ],
    probeChanges: 200,
  },
  catchUp: { documents: 2_000, page: 1000 },
  filtered: { documents: 2_000, hotEvery: 100, lists: 19, page: 1000, repeats: 5 },
  connectPull: { documents: 20, durationMs: 200, processes: 1, concurrency: 4 },
  fanout: {
    subscribers: [1, 10, 40],
    periodMs: 50,
    commitsPerRound: 6,
    drainMs: 3_000,
    connectionsPerProcess: 2,
    processesFor: (k) => (k >= 10 ? 2 : 1),
  },
  idle: { streams: 50, processes: 1, connectionsPerProcess: 2, settleMs: 200 },
  conflicts: { clients: 4, documents: 10, batch: 5, pushesPerClient: 5, processes: 1 },
  app: { documents: 200, batch: 100 },
  growth: { sizes: [500, 2_000], updates: 200, pull: 500, fillBatch: 500, fillProcesses: 1 },
  encoding: { windowMs: 30 },
  cluster: { instances: [1, 3], seconds: 2, writers: 16 },
};

// Fewer servers to start than quick: starting one costs about a second.
const smoke: BenchConfig = {
  ...quick,
  mode: "smoke",
  warmup: 1,
  rounds: 2,
  push: { batches: [{ batch: 100, changes: 300 }], probeChanges: 100 },
  catchUp: { documents: 1_000, page: 1000 },
  filtered: { documents: 1_000, hotEvery: 100, lists: 19, page: 1000, repeats: 2 },
  fanout: { ...quick.fanout, subscribers: [1, 8], commitsPerRound: 4, drainMs: 3_000, processesFor: (k) => (k >= 8 ? 2 : 1) },
  idle: { streams: 20, processes: 1, connectionsPerProcess: 2, settleMs: 100 },
  connectPull: { ...quick.connectPull, durationMs: 400 },
  app: { documents: 100, batch: 50 },
  growth: { sizes: [300, 1_000], updates: 100, pull: 300, fillBatch: 500, fillProcesses: 1 },
  cluster: { instances: [1, 3], seconds: 1, writers: 8, rounds: 2 },
};

export function configFor(mode: Mode): BenchConfig {
  return mode === "full" ? full : mode === "quick" ? quick : smoke;
}
