// The schema a server under test keeps its tables in, on the PostgreSQL the
// bench measures on: each measurement uses a fresh one, settled before it is
// read and dropped afterwards.
import pg from "pg";

async function withAdmin<T>(url: string, work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: url, application_name: "pocket-bench admin" });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * VACUUM ANALYZE of every table in the schema: what autovacuum does to a
 * table some time after a bulk load, done at once. Without it the first
 * reads after loading run on plans made for an empty table and set hint
 * bits, and the rounds measure how soon autovacuum happens to run.
 */
export function settleSchema(url: string, schema: string): Promise<void> {
  return withAdmin(url, async (admin) => {
    const { rows } = await admin.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = $1", [schema]);
    for (const { tablename } of rows) await admin.query(`VACUUM ANALYZE ${quoted(schema)}.${quoted(tablename)}`);
  });
}

export function dropSchema(url: string, schema: string): Promise<void> {
  return withAdmin(url, async (admin) => {
    await admin.query(`DROP SCHEMA IF EXISTS ${quoted(schema)} CASCADE`);
  });
}
