// The CPU a PostgreSQL on this machine spends for one server under test: the
// backends of the connections it names `pocket-sync <schema>` and
// `pocket-sync <schema> listener` (server/src/storage/postgres.ts), found in
// pg_stat_activity and read from /proc. On PostgreSQL the database does much
// of a read's work, so the server's own CPU alone would flatter it; and the
// database is shared with other work, so its whole CPU would not be ours.
import pg from "pg";
import { cpuSeconds } from "./proc.js";

/** CPU seconds per backend process id, at one moment. */
export type BackendCpu = ReadonlyMap<number, number>;

/**
 * CPU seconds the backends spent between two readings. A backend opened
 * meanwhile counts from zero: its whole life lies in the interval. One that
 * closed meanwhile can no longer be read, and its share is lost: the pool
 * closes only connections idle for seconds, so a busy interval loses little.
 */
export function cpuBetween(before: BackendCpu, after: BackendCpu): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export class PostgresBackends {
  private constructor(
    private readonly admin: pg.Client,
    private readonly schema: string,
  ) {}

  /** Undefined when the database is on another machine: its processes are not ours to read. */
  static async connect(url: string, schema: string): Promise<PostgresBackends | undefined> {
    if (!LOCAL_HOSTS.has(new URL(url).hostname)) return undefined;
    const admin = new pg.Client({ connectionString: url, application_name: "pocket-bench backends" });
    await admin.connect();
    return new PostgresBackends(admin, schema);
  }

  /** Each backend of the server's connections, with the CPU it has used so far. */
  async read(): Promise<BackendCpu> {
    const { rows } = await this.admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = $1 OR application_name = $2",
      [`pocket-sync ${this.schema}`, `pocket-sync ${this.schema} listener`],
    );
    const cpu = new Map<number, number>();
    for (const { pid } of rows) {
      try {
        cpu.set(pid, cpuSeconds(pid));
      } catch {
        // closed since the query: nothing left to read
      }
    }
    return cpu;
  }

  async close(): Promise<void> {
    await this.admin.end();
  }
}
