// The single-writer lock of a PostgreSQL data set: a session advisory lock,
// held by a dedicated connection for as long as the server writes. While the
// core assigns sequences in memory, exactly one server may write a schema.
import { createHash } from "node:crypto";
import pg from "pg";

/** First key of the advisory lock: "Pock". The second is derived from the schema. */
const LOCK_CLASS = 0x506f636b;

export const lockKeyOf = (schema: string) => createHash("sha256").update(`pocket-sync:${schema}`).digest().readInt32BE(0) & 0x7fffffff;

/** Another server holds the lock: not a transient failure, but an operator's decision to make. */
export class LockTakenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LockTakenError";
  }
}

export interface HeldLock {
  readonly client: pg.Client;
  /** The backend holding the lock: transactions check it still does. */
  readonly pid: number;
}

/**
 * Connects a dedicated session and takes the lock. Throws LockTakenError,
 * naming the holder as far as PostgreSQL tells, while another session holds it.
 * `onLost` is called once if the connection later fails or ends.
 */
export async function takeWriterLock(config: pg.ClientConfig, schema: string, onLost: (cause: Error) => void): Promise<HeldLock> {
  const key = lockKeyOf(schema);
  const client = new pg.Client(config);
  let held = false;
  const lose = (cause: Error) => {
    if (!held) return; // never taken, or already reported
    held = false;
    onLost(cause);
  };
  // An error on an idle connection is emitted, not thrown: without this
  // handler it would crash the process. Losing this connection loses the lock.
  client.on("error", (error) => lose(error));
  client.on("end", () => lose(new Error("the connection holding it ended")));
  try {
    await client.connect();
    const { rows } = await client.query<{ locked: boolean; pid: number }>(
      "SELECT pg_try_advisory_lock($1::int4, $2::int4) AS locked, pg_backend_pid() AS pid",
      [LOCK_CLASS, key],
    );
    if (!rows[0]?.locked) throw new LockTakenError(await describeHolder(client, schema, key));
    held = true;
    return { client, pid: rows[0].pid };
  } catch (error) {
    await releaseWriterLock(client, schema, { unlock: false });
    throw error;
  }
}

/** Ends the lock's session (unlocking first when asked and possible); never throws. */
export async function releaseWriterLock(client: pg.Client, schema: string, { unlock }: { unlock: boolean }): Promise<void> {
  client.removeAllListeners("end");
  // Late errors of a dying connection must not crash the process.
  client.removeAllListeners("error");
  client.on("error", () => {});
  if (unlock) await client.query("SELECT pg_advisory_unlock($1::int4, $2::int4)", [LOCK_CLASS, lockKeyOf(schema)]).catch(() => {});
  await client.end().catch(() => {});
}

/** SQL returning one row while backend $3 holds the lock of schema key $2 (with $1 the class). */
export const HOLDS_LOCK = `SELECT 1 FROM pg_locks
  WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND classid = $1::int4::oid AND objid = $2::int4::oid AND objsubid = 2 AND pid = $3 AND granted`;
export const holdsLockParams = (schema: string, pid: number) => [LOCK_CLASS, lockKeyOf(schema), pid];

/** Why the lock is taken, naming who holds it as far as PostgreSQL tells. */
async function describeHolder(client: pg.Client, schema: string, key: number): Promise<string> {
  let holder = "";
  try {
    const { rows } = await client.query<{ pid: number; client_addr: string | null }>(
      `SELECT l.pid, host(a.client_addr) AS client_addr
         FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = $1::int4::oid AND l.objid = $2::int4::oid AND l.objsubid = 2 AND l.granted`,
      [LOCK_CLASS, key],
    );
    const row = rows[0];
    if (row) holder = ` (PostgreSQL backend pid ${row.pid}${row.client_addr ? `, client ${row.client_addr}` : ""})`;
  } catch {
    // the message below is enough
  }
  return (
    `PostgreSQL schema "${schema}" is in use by another Pocket Sync server${holder}: ` +
    "the postgres storage allows one server per schema; stop the other server or use another schema"
  );
}
