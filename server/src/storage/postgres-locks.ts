// The advisory locks and the notification channel of a PostgreSQL data set
// (a schema). Several servers share a schema; these keep the few things that
// must happen once at a time from happening twice: migrating the tables, and
// purging tombstones. Commits need none of them: they serialize on the
// sequence counter's row (postgres.ts).
import { createHash } from "node:crypto";

/** First key of every advisory lock of Pocket Sync: "Pock". The second is derived from the schema and the purpose. */
const LOCK_CLASS = 0x506f636b;

const digest = (text: string) => createHash("sha256").update(text).digest();
const keyOf = (text: string) => digest(text).readInt32BE(0) & 0x7fffffff;

/** [class, key] of one advisory lock, as `pg_advisory_xact_lock($1::int4, $2::int4)` takes it. */
export type LockKey = [number, number];

/**
 * The session lock a server from before clustering (storage format 1) held
 * for as long as it ran. A new server never takes it; it takes it for the
 * length of one transaction to learn that no such server is running before
 * it migrates the tables from under it.
 */
export const legacyWriterLock = (schema: string): LockKey => [LOCK_CLASS, keyOf(`pocket-sync:${schema}`)];

/** Held for the transaction that creates or migrates the tables: servers starting together take turns. */
export const migrationLock = (schema: string): LockKey => [LOCK_CLASS, keyOf(`pocket-sync:migrate:${schema}`)];

/** Held for each purge transaction: one server purges at a time; the others skip their turn. */
export const purgeLock = (schema: string): LockKey => [LOCK_CLASS, keyOf(`pocket-sync:purge:${schema}`)];

/**
 * The LISTEN/NOTIFY channel of a schema's commits. A hash, so any schema name
 * fits PostgreSQL's 63-byte identifiers; the payload names the data set's
 * epoch too, so a stray notification on a colliding channel is ignored.
 */
export const channelOf = (schema: string): string => `pocket_sync_${digest(`pocket-sync:${schema}`).toString("hex").slice(0, 24)}`;
