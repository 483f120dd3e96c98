// Role: a client speaking the wire protocol directly (no client library):
// pushes batches of new or updated documents and pulls pages, timing only the
// calls. The messages are built before the clock starts.
import { create } from "@bufbuild/protobuf";
import { CheckpointSchema, PushRequestSchema, type ChangeEvent, type Checkpoint, type PushRequest } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { nowMs } from "../harness/clock.js";
import { documentId, documentText, listOf, pushedChange, type ListSpread } from "../data.js";
import { syncClient, type HttpVersion, type SyncClient } from "./connect-clients.js";

let client: SyncClient | undefined;
function connected(): SyncClient {
  if (!client) throw new Error("call connect first");
  return client;
}

export interface PushPlan {
  readonly collection: string;
  readonly clientId: string;
  /** Documents prefix-000000000 onwards: `from` .. `from + count - 1`. */
  readonly idPrefix: string;
  readonly from: number;
  readonly count: number;
  readonly batch: number;
  /** Pushes in flight at once (1: one after another, as one client does). */
  readonly concurrency?: number;
  /** Which documents' revisions to return: all, or those with these numbers. */
  readonly keep?: "all" | readonly number[];
  /** Gives each document a top-level `list` field, spread this way. */
  readonly lists?: ListSpread;
}

export interface PushOutcome {
  readonly ms: number;
  readonly accepted: number;
  readonly other: number;
  readonly requests: number;
  readonly epoch: string;
  readonly lastSequence: bigint;
  readonly revisions: Array<[string, string]>;
}

/** Client sequences must be unique per client id: each change's is its document number + 1. */
function buildRequests(plan: PushPlan, change: (n: number, seq: number) => ChangeEvent): PushRequest[] {
  const requests: PushRequest[] = [];
  for (let start = 0; start < plan.count; start += plan.batch) {
    const changes: ChangeEvent[] = [];
    for (let k = start; k < Math.min(plan.count, start + plan.batch); k++) changes.push(change(plan.from + k, plan.from + k + 1));
    requests.push(create(PushRequestSchema, { clientId: plan.clientId, changes }));
  }
  return requests;
}

/** The number at the end of a bench document id. */
function numberOf(id: string): number {
  return Number(id.slice(id.lastIndexOf("-") + 1));
}

function keeping(numbers: ReadonlySet<number>): (change: ChangeEvent) => boolean {
  return (change) => numbers.has(numberOf(change.documentId));
}

async function send(requests: readonly PushRequest[], concurrency: number, keep: (change: ChangeEvent) => boolean): Promise<PushOutcome> {
  const c = connected();
  let accepted = 0;
  let other = 0;
  let epoch = "";
  let lastSequence = 0n;
  const revisions: Array<[string, string]> = [];
  let next = 0;
  const start = nowMs();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, requests.length) }, async () => {
      while (next < requests.length) {
        const request = requests[next++]!;
        const response = await c.push(request);
        epoch = response.checkpoint?.epoch ?? epoch;
        response.results.forEach((result, i) => {
          if (result.outcome.case !== "accepted") return void other++;
          accepted++;
          const { revision, serverSequence } = result.outcome.value;
          if (serverSequence > lastSequence) lastSequence = serverSequence;
          const change = request.changes[i]!;
          if (keep(change)) revisions.push([change.documentId, revision]);
        });
      }
    }),
  );
  return { ms: nowMs() - start, accepted, other, requests: requests.length, epoch, lastSequence, revisions };
}

export interface UpdatePlan {
  readonly collection: string;
  readonly clientId: string;
  readonly targets: ReadonlyArray<readonly [string, string]>;
  readonly batch: number;
  /** A different document body from the one stored. */
  readonly salt: number;
}

export interface PullPlan {
  readonly collections: readonly string[];
  readonly limit: number;
  /** Stop after this many changes (default: until has_more is false). */
  readonly max?: number;
  /** Start after this position (server sequence) in every collection, with the server's epoch. */
  readonly after?: { readonly sequence: bigint; readonly epoch: string };
  /** Per collection, the conditions of its filter (PROTOCOL §4.10); values are JSON text. */
  readonly filters?: Readonly<Record<string, ReadonlyArray<{ readonly field: string; readonly values: readonly string[] }>>>;
  /**
   * Checked once the clock has stopped: how many documents pulled lack this
   * top-level field value (a filter that lets others through is a wrong
   * answer, not a fast one).
   */
  readonly expect?: { readonly field: string; readonly value: unknown };
}

export interface PullOutcome {
  readonly ms: number;
  readonly changes: number;
  /** With `expect`: documents pulled, each counted once (a filtered paging may repeat one, §4.10). */
  readonly documents?: number;
  readonly pages: number;
  readonly bytes: number;
  /** With `expect`: documents pulled without the expected field value. */
  readonly unexpected?: number;
}

export const handlers = {
  connect(url: string, httpVersion: HttpVersion = "2"): void {
    client = syncClient(url, httpVersion);
  },

  /** Inserts `count` new documents. */
  push(plan: PushPlan): Promise<PushOutcome> {
    const text = plan.lists ? (n: number) => documentText(n, listOf(n, plan.lists!)) : (n: number) => documentText(n);
    const requests = buildRequests(plan, (n, seq) => pushedChange(plan.collection, documentId(plan.idPrefix, n), n, seq, "", text(n)));
    const keep = plan.keep === "all" ? () => true : plan.keep ? keeping(new Set(plan.keep)) : () => false;
    return send(requests, plan.concurrency ?? 1, keep);
  },

  /**
   * Inserts without building everything first (for filling millions of
   * documents): builds and sends one batch at a time per lane.
   */
  async fill(plan: PushPlan): Promise<PushOutcome> {
    const total: PushOutcome = { ms: 0, accepted: 0, other: 0, requests: 0, epoch: "", lastSequence: 0n, revisions: [] };
    const chunk = plan.batch * 20;
    let out = total;
    for (let done = 0; done < plan.count; done += chunk) {
      const part = await handlers.push({ ...plan, from: plan.from + done, count: Math.min(chunk, plan.count - done) });
      out = {
        ms: out.ms + part.ms,
        accepted: out.accepted + part.accepted,
        other: out.other + part.other,
        requests: out.requests + part.requests,
        epoch: part.epoch,
        lastSequence: part.lastSequence > out.lastSequence ? part.lastSequence : out.lastSequence,
        revisions: out.revisions.concat(part.revisions),
      };
    }
    return out;
  },

  /** Updates each target once on its known revision; returns the new revisions. */
  async update(plan: UpdatePlan): Promise<PushOutcome> {
    const requests: PushRequest[] = [];
    for (let start = 0; start < plan.targets.length; start += plan.batch) {
      const changes = plan.targets
        .slice(start, start + plan.batch)
        .map(([id, revision], k) => pushedChange(plan.collection, id, plan.salt + start + k, start + k + 1, revision));
      requests.push(create(PushRequestSchema, { clientId: plan.clientId, changes }));
    }
    return send(requests, 1, () => true);
  },

  /** Pulls pages from the beginning (or `after`) until has_more is false or `max` changes came. */
  async pull(plan: PullPlan): Promise<PullOutcome> {
    const c = connected();
    let checkpoint: Checkpoint | undefined = plan.after
      ? create(CheckpointSchema, {
          serverSequence: plan.after.sequence,
          epoch: plan.after.epoch,
          collections: Object.fromEntries(plan.collections.map((name) => [name, plan.after!.sequence])),
        })
      : undefined;
    const filters = plan.filters
      ? Object.fromEntries(Object.entries(plan.filters).map(([collection, conditions]) => [collection, { conditions: conditions.map((k) => ({ field: k.field, values: [...k.values] })) }]))
      : undefined;
    // Kept only to check them afterwards: the unchecked pulls time nothing else.
    const seen = plan.expect ? new Map<string, string>() : undefined;
    let changes = 0;
    let pages = 0;
    let bytes = 0;
    const start = nowMs();
    for (;;) {
      const response = await c.pull({ collections: [...plan.collections], limit: plan.limit, ...(checkpoint ? { checkpoint } : {}), ...(filters ? { filters } : {}) });
      pages++;
      changes += response.changes.length;
      for (const change of response.changes) {
        bytes += change.document.length;
        seen?.set(`${change.collection}\u0000${change.documentId}`, change.document);
      }
      checkpoint = response.checkpoint;
      if (!response.hasMore || (plan.max !== undefined && changes >= plan.max)) break;
    }
    const ms = nowMs() - start;
    if (!plan.expect || !seen) return { ms, changes, pages, bytes };
    const { field, value } = plan.expect;
    let unexpected = 0;
    for (const text of seen.values()) if ((JSON.parse(text) as Record<string, unknown>)[field] !== value) unexpected++;
    return { ms, changes, pages, bytes, documents: seen.size, unexpected };
  },

  close(): void {
    client = undefined;
  },
};
