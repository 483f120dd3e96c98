// Test helpers: load against real server processes (one, or several behind a
// load balancer) while things break, and what every client saw. Writers retry
// refused batches with the same client sequences, as a real client does;
// subscribers reconnect from their last checkpoint; pullers follow from theirs.
// stopLoads() (for afterEach) stops whatever is still running.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import pg from "pg";
import { errorInfo } from "../../../common/src/errors.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../../gen/ts/grpc/health/v1/health_pb.js";
import type { ChangeEvent, Checkpoint } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { pushed, syncClient, transportFor, type ProtocolVariant } from "./testing.js";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Refusal {
  readonly code: string;
  readonly reason: string | undefined;
  readonly message: string;
  readonly at: number;
}
const refusalOf = (error: unknown): Refusal => {
  const e = ConnectError.from(error);
  return { code: Code[e.code], reason: errorInfo(error)?.reason, message: e.rawMessage, at: Date.now() };
};

/** Refusals other than the retryable `unavailable` with its ErrorInfo. */
export const notRetryable = (errors: readonly Refusal[]) => errors.filter((e) => e.code !== "Unavailable" || e.reason !== "ERROR_REASON_UNAVAILABLE");

const stops: Array<() => Promise<void> | void> = [];
/** Stops every load, stream and watcher still running (for afterEach). */
export async function stopLoads(): Promise<void> {
  for (const stop of stops.splice(0).reverse()) await stop();
}

/** When the database stopped answering, and when it answered again, probed by fresh connections. */
export function probeDatabase(postgresUrl: string) {
  let wentAwayAt: number | undefined;
  let backAt: number | undefined;
  let settled = false;
  const done = (async () => {
    // Once the restart command returned, a database never seen away was too quick to notice.
    while (backAt === undefined && !(settled && wentAwayAt === undefined)) {
      const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 1_000 });
      client.on("error", () => {});
      const at = Date.now();
      try {
        await client.connect();
        await client.query("SELECT 1");
        if (wentAwayAt !== undefined) backAt = at;
      } catch {
        wentAwayAt ??= at;
      } finally {
        await client.end().catch(() => {});
      }
      await sleep(25);
    }
  })();
  return {
    /** Call once the restart command returned. */
    async result() {
      settled = true;
      await done;
      if (wentAwayAt === undefined || backAt === undefined) throw new Error("the database never stopped answering during the restart");
      return { wentAwayAt, backAt };
    },
  };
}

/** Follows grpc.health.v1 Watch, keeping every status with the time it came. */
export function watchHealth(url: string) {
  const abort = new AbortController();
  const seen: Array<{ status: Status; at: number }> = [];
  const client = createClient(Health, transportFor(url, "grpc"));
  const done = (async () => {
    try {
      for await (const response of client.watch({ service: "" }, { signal: abort.signal })) seen.push({ status: response.status, at: Date.now() });
    } catch {
      // aborted at the end
    }
  })();
  stops.push(async () => {
    abort.abort();
    await done;
  });
  return {
    seen,
    /** The first time after `since` that health went NOT_SERVING and then SERVING again. */
    outageAfter(since: number) {
      const down = seen.find((s) => s.at >= since && s.status === Status.NOT_SERVING);
      const up = down && seen.find((s) => s.at >= down.at && s.status === Status.SERVING);
      return down && up ? { downAt: down.at, upAt: up.at } : undefined;
    },
  };
}

export interface PushLoadOptions {
  /** Writers, each on one URL and protocol in turn. */
  readonly writers?: number;
  readonly variants?: readonly ProtocolVariant[];
  /** Prefixes client ids and document ids, so several loads never collide. */
  readonly prefix?: string;
  /** Also update the documents of the writer's previous batch (so they move to new sequences). */
  readonly updates?: boolean;
}

/**
 * Writers pushing batches of 10 without pause, each retrying a refused batch
 * with the same client sequences until it is acknowledged. `urls` are used in
 * turn, one per writer.
 */
export function pushLoad(urls: string | readonly string[], options: PushLoadOptions = {}) {
  const targets = typeof urls === "string" ? [urls] : urls;
  const variants = options.variants ?? ["connect-proto-h2", "grpc", "connect-json-h1", "grpc-web-h1"];
  const prefix = options.prefix ?? "";
  const acknowledged = new Map<string, string>(); // document id -> document
  const refusals: Refusal[] = [];
  let running = true;
  let lastAckAt = 0;
  const acks: number[] = [];
  const done = Promise.all(
    Array.from({ length: options.writers ?? 4 }, async (_, w) => {
      const client = syncClient(targets[w % targets.length]!, variants[w % variants.length]);
      let previous: Array<{ documentId: string; revision: string; round: number }> = [];
      for (let sequence = 0, round = 0; running; round++) {
        const batch = Array.from({ length: 10 }, (_, i) => {
          sequence++;
          const update = options.updates && i % 2 === 1 ? previous[i] : undefined;
          if (update) return pushed(update.documentId, { writer: w, sequence, round }, sequence, { baseRevision: update.revision });
          return pushed(`${prefix}w${w}-${sequence}`, { writer: w, sequence, round }, sequence);
        });
        for (;;) {
          try {
            const response = await client.push({ clientId: `${prefix}writer-${w}`, changes: batch });
            const outcomes = response.results.map((r) => r.outcome.case);
            if (outcomes.some((o) => o !== "accepted")) throw new Error(`unexpected outcomes ${outcomes.join(",")}`);
            previous = batch.map((change, i) => {
              const result = response.results[i]!.outcome;
              acknowledged.set(change.documentId, change.document);
              return { documentId: change.documentId, revision: result.case === "accepted" ? result.value.revision : "", round };
            });
            lastAckAt = Date.now();
            acks.push(lastAckAt);
            break;
          } catch (error) {
            if (!(error instanceof ConnectError) && error instanceof Error && error.message.startsWith("unexpected")) throw error;
            refusals.push(refusalOf(error));
            await sleep(20);
          }
        }
      }
    }),
  );
  return {
    acknowledged,
    refusals,
    get lastAckAt() {
      return lastAckAt;
    },
    get pushes() {
      return acks.length;
    },
    /** The first acknowledgement at or after `since`. */
    firstAckAfter: (since: number) => acks.find((at) => at >= since),
    async stop() {
      running = false;
      await done;
    },
  };
}

/** A reader pulling from the beginning over and over, keeping what each failed pull answered. */
export function pullLoad(url: string, variant: ProtocolVariant = "connect-json-h1") {
  const errors: Refusal[] = [];
  let pulls = 0;
  let running = true;
  const client = syncClient(url, variant);
  const done = (async () => {
    while (running) {
      try {
        await client.pull({ collections: ["todos"], limit: 100 });
        pulls++;
      } catch (error) {
        errors.push(refusalOf(error));
      }
      await sleep(20);
    }
  })();
  stops.push(async () => {
    running = false;
    await done;
  });
  return {
    errors,
    get pulls() {
      return pulls;
    },
  };
}

/** What one client following the changes holds and saw. */
export interface Follower {
  readonly name: string;
  /** The latest state of each document, as applied. */
  readonly latest: Map<string, ChangeEvent>;
  /** Every change received, in order: "document@sequence". */
  readonly received: string[];
  /** Changes that arrived at or below a sequence already received. */
  readonly outOfOrder: string[];
  readonly errors: Refusal[];
  /** Streams or pulls that failed and were resumed from the checkpoint. */
  readonly resumed: number;
  /** The stored checkpoint's position for "todos". */
  readonly position: bigint;
}

/** A live subscriber that resumes from its last checkpoint whenever its stream ends. */
export function followLive(url: string, variant: ProtocolVariant = "connect-proto-h2", name = `subscribe ${variant} ${url}`): Follower {
  const abort = new AbortController();
  const latest = new Map<string, ChangeEvent>();
  const received: string[] = [];
  let checkpoint: Checkpoint | undefined;
  const outOfOrder: string[] = [];
  const errors: Refusal[] = [];
  let resumed = 0;
  let last = 0n;
  const client = syncClient(url, variant);
  const done = (async () => {
    while (!abort.signal.aborted) {
      try {
        for await (const message of client.subscribe({ collections: ["todos"], checkpoint }, { signal: abort.signal })) {
          if (message.event.case !== "changes" && message.event.case !== "heartbeat") continue;
          if (message.event.case === "changes") {
            for (const change of message.event.value.changes) {
              // Across reconnects too: a stream resumed from the checkpoint never goes back.
              if (change.serverSequence <= last) outOfOrder.push(`${change.documentId}@${change.serverSequence} after ${last}`);
              last = change.serverSequence;
              latest.set(change.documentId, change);
              received.push(`${change.documentId}@${change.serverSequence}`);
            }
          }
          checkpoint = message.event.value.checkpoint ?? checkpoint;
        }
      } catch (error) {
        if (abort.signal.aborted) return;
        errors.push(refusalOf(error));
      }
      if (abort.signal.aborted) return;
      // The stream ended (a server went away, or the database did): resume from the checkpoint.
      resumed++;
      last = checkpoint?.collections.todos ?? 0n;
      await sleep(100);
    }
  })();
  stops.push(async () => {
    abort.abort();
    await done;
  });
  return {
    name, latest, received, outOfOrder, errors,
    get resumed() {
      return resumed;
    },
    get position() {
      return checkpoint?.collections.todos ?? 0n;
    },
  };
}

/** A client pulling from its checkpoint over and over, applying each page, as a client without streams does. */
export function followPulls(url: string, variant: ProtocolVariant = "connect-json-h1", name = `pull ${variant} ${url}`): Follower {
  let running = true;
  const latest = new Map<string, ChangeEvent>();
  const received: string[] = [];
  const outOfOrder: string[] = [];
  const errors: Refusal[] = [];
  let resumed = 0;
  let checkpoint: Checkpoint | undefined;
  const client = syncClient(url, variant);
  const done = (async () => {
    while (running) {
      try {
        const page = await client.pull({ collections: ["todos"], checkpoint, limit: 200 });
        let last = checkpoint?.collections.todos ?? 0n;
        for (const change of page.changes) {
          if (change.serverSequence <= last) outOfOrder.push(`${change.documentId}@${change.serverSequence} after ${last}`);
          last = change.serverSequence;
          latest.set(change.documentId, change);
          received.push(`${change.documentId}@${change.serverSequence}`);
        }
        checkpoint = page.checkpoint;
        if (page.hasMore) continue;
      } catch (error) {
        errors.push(refusalOf(error));
        resumed++;
      }
      await sleep(30);
    }
  })();
  stops.push(async () => {
    running = false;
    await done;
  });
  return {
    name, latest, received, outOfOrder, errors,
    get resumed() {
      return resumed;
    },
    get position() {
      return checkpoint?.collections.todos ?? 0n;
    },
  };
}

/** Every change in the database, by pulling from the beginning. */
export async function pullAll(url: string): Promise<{ documents: Map<string, ChangeEvent>; sequences: bigint[]; visible: bigint }> {
  const client = syncClient(url);
  const documents = new Map<string, ChangeEvent>();
  const sequences: bigint[] = [];
  let checkpoint: Checkpoint | undefined;
  for (;;) {
    const page = await client.pull({ collections: ["todos"], checkpoint, limit: 1000 });
    for (const change of page.changes) {
      documents.set(change.documentId, change);
      sequences.push(change.serverSequence);
    }
    checkpoint = page.checkpoint;
    if (!page.hasMore) return { documents, sequences, visible: checkpoint!.serverSequence };
  }
}
