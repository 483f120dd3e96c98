// Role: many Subscribe streams over a few HTTP/2 connections, as many devices
// behind one process would hold them. For each round it records when each
// stream first received each commit, and reports latency from the commit's
// INTENDED send time (t0 + i × period on the shared clock), so a writer that
// fell behind its schedule cannot hide the delay (no coordinated omission).
// A stream the server ends is resumed from its last checkpoint, as a client
// does; what never arrives by the round's deadline counts as missing.
//
// The streams are raw HTTP/2 readers (./subscribe-reader.ts) that decode only
// what the measurement needs: a full client library per stream would make
// these processes, not the server, the limit at thousands of subscribers (the
// client library has its own workload, app-level).
import { setMaxListeners } from "node:events";
import http2 from "node:http2";
import { nowMs, sleep, sleepUntil } from "../harness/clock.js";
import { deliveryLatencies } from "../harness/open-loop.js";
import { readSubscribe } from "./subscribe-reader.js";

interface Stream {
  readonly index: number;
  readonly session: () => http2.ClientHttp2Session;
  /** The last checkpoint received, as its protobuf bytes: resent as it came. */
  checkpoint: Uint8Array | undefined;
  /** Called once, at the stream's first message (it is then caught up). */
  onFirst: (() => void) | undefined;
}

interface Round {
  readonly t0: number;
  readonly periodMs: number;
  readonly commits: number;
  /** Arrival time per stream × commit; NaN until it arrives. */
  readonly arrivals: Float64Array;
  remaining: number;
  duplicates: number;
  done?: () => void;
}

export interface RoundPlan {
  readonly round: number;
  readonly t0: number;
  readonly periodMs: number;
  readonly commits: number;
}

export interface RoundResult {
  /**
   * Latency of every delivery, ms from its intended send time; one that never
   * arrived counts at the time waited for it (a lower bound).
   */
  readonly latencies: Float64Array;
  readonly missing: number;
  readonly duplicates: number;
}

let streams: Stream[] = [];
let collection = "";
const rounds = new Map<number, Round>();
let abort = new AbortController();
let reconnects = 0;
let streamErrors = 0;
let lastError: string | undefined;

/** Commit ids are "<round>.<i>": see commitId. */
function record(stream: Stream, documentId: string, at: number): void {
  const dot = documentId.indexOf(".");
  if (dot < 0) return;
  const round = rounds.get(Number(documentId.slice(0, dot)));
  if (!round) return;
  const i = Number(documentId.slice(dot + 1));
  const slot = stream.index * round.commits + i;
  if (!Number.isNaN(round.arrivals[slot]!)) {
    round.duplicates++;
    return;
  }
  round.arrivals[slot] = at;
  if (--round.remaining === 0) round.done?.();
}

async function follow(stream: Stream, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      await readSubscribe(stream.session(), collection, stream.checkpoint, signal, (message) => {
        const at = nowMs();
        for (const documentId of message.documentIds) record(stream, documentId, at);
        if (message.checkpoint) stream.checkpoint = message.checkpoint;
        if (stream.onFirst) {
          stream.onFirst();
          stream.onFirst = undefined;
        }
      });
    } catch (error) {
      if (signal.aborted) return;
      streamErrors++;
      lastError = (error as Error).message;
    }
    if (signal.aborted) return;
    reconnects++;
    await sleep(50);
  }
}

const CONNECTION_WINDOW_BYTES = 32 * 1024 * 1024;

/** An HTTP/2 connection that is opened again once it is gone. */
function connection(url: string): () => http2.ClientHttp2Session {
  let session: http2.ClientHttp2Session | undefined;
  return () => {
    if (!session || session.closed || session.destroyed) {
      const opened = http2.connect(url);
      opened.on("error", () => {});
      // Hundreds of subscribers share this connection, where real devices
      // would each have their own connection window; with the 64 KiB default
      // the server would stall on every commit until this process sent a
      // WINDOW_UPDATE, and the bench would measure that, not the fan-out.
      opened.once("connect", () => opened.setLocalWindowSize(CONNECTION_WINDOW_BYTES));
      session = opened;
    }
    return session;
  };
}

export const handlers = {
  /**
   * Opens `count` more streams spread over `connections` new HTTP/2
   * connections and resolves once each has had its first message (caught up).
   */
  async open(plan: { url: string; count: number; connections: number; collection: string; timeoutMs?: number }): Promise<{ ms: number }> {
    collection = plan.collection;
    if (streams.length === 0) {
      abort = new AbortController();
      setMaxListeners(0, abort.signal); // one signal ends thousands of streams
    }
    const connections = Array.from({ length: Math.max(1, Math.min(plan.connections, plan.count)) }, () => connection(plan.url));
    const start = nowMs();
    let opened = 0;
    let allOpen!: () => void;
    const done = new Promise<void>((resolve) => (allOpen = resolve));
    const added: Stream[] = Array.from({ length: plan.count }, (_, k) => ({
      index: streams.length + k,
      session: connections[k % connections.length]!,
      checkpoint: undefined,
      onFirst: () => {
        if (++opened === plan.count) allOpen();
      },
    }));
    streams.push(...added);
    for (const stream of added) void follow(stream, abort.signal);
    if (added.length > 0) {
      const timeoutMs = plan.timeoutMs ?? 120_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        done,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${opened} of ${plan.count} streams opened in ${timeoutMs} ms (${streamErrors} errors; last: ${lastError})`)),
            timeoutMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
    }
    return { ms: nowMs() - start };
  },

  /** Starts recording a round (before its first commit is sent). */
  expect(plan: RoundPlan): void {
    const arrivals = new Float64Array(streams.length * plan.commits).fill(Number.NaN);
    rounds.set(plan.round, { t0: plan.t0, periodMs: plan.periodMs, commits: plan.commits, arrivals, remaining: arrivals.length, duplicates: 0 });
  },

  /** Waits until every stream has every commit of the round, or until `deadline`; then reports it. */
  async collect(round: number, deadline: number): Promise<RoundResult> {
    const state = rounds.get(round);
    if (!state) throw new Error(`round ${round} was not expected`);
    if (state.remaining > 0) {
      const complete = new Promise<void>((resolve) => (state.done = resolve));
      await Promise.race([complete, sleepUntil(deadline)]);
    }
    rounds.delete(round);
    const { latencies, missing } = deliveryLatencies(state.arrivals, state.commits, state.t0, state.periodMs, Math.max(nowMs(), deadline));
    return { latencies, missing, duplicates: state.duplicates };
  },

  /** Streams that the server ended or that failed, and were resumed. */
  health(): { streams: number; reconnects: number; errors: number; lastError?: string } {
    return { streams: streams.length, reconnects, errors: streamErrors, ...(lastError ? { lastError } : {}) };
  },

  close(): void {
    abort.abort();
    streams = [];
    rounds.clear();
  },
};

/** The document id of commit `i` of `round`, as the writer names it. */
export function commitId(round: number, i: number): string {
  return `${round}.${i}`;
}
