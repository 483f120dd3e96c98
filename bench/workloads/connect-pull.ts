// Connect JSON Pull of a 20-document page over HTTP/1.1, as a browser's
// first sync makes it, against a bare fastify route that returns the same
// bytes: what the Connect handler, validation, the core and storage add to the
// HTTP stack they run on.
import { startWorker, stopAll, type Worker } from "../harness/processes.js";
import { nowMs } from "../harness/clock.js";
import { CpuMeter } from "../harness/proc.js";
import { interleave } from "../harness/rounds.js";
import { summarize } from "../harness/stats.js";
import type { LoadResult } from "../generators/http-load.js";
import { atLeast, cpuCeiling, figure, ratio } from "./metrics.js";
import type { Workload } from "./types.js";

const PULL_PATH = "/pocket.sync.v1.SyncService/Pull";

export const connectPull: Workload = {
  id: "connect-pull",
  title: "Connect JSON Pull of 20 documents",
  async run(context) {
    const { documents, durationMs, processes, concurrency } = context.config.connectPull;
    const [server, seeder, fastify, ...loaders] = await Promise.all([
      context.startServer({ label: "connect-pull" }),
      startWorker("generators/wire.ts", "seeder"),
      startWorker("baselines/fastify-peer.ts", "bare fastify"),
      ...Array.from({ length: processes }, (_, i) => startWorker("generators/http-load.ts", `http load#${i + 1}`)),
    ]);
    const busy: number[] = [];
    let rounds: Record<string, number[]>;
    let responseBytes = 0;
    try {
      await seeder.call("connect", server.url);
      await seeder.call("push", { collection: "todos", clientId: "seeder", idPrefix: "d", from: 0, count: documents, batch: documents });
      await seeder.stop();

      const body = JSON.stringify({ collections: ["todos"], limit: documents });
      const headers = { "content-type": "application/json", "connect-protocol-version": "1" };
      const answer = await fetch(server.url + PULL_PATH, { method: "POST", headers, body });
      const bytes = new Uint8Array(await answer.arrayBuffer());
      const parsed = JSON.parse(new TextDecoder().decode(bytes)) as { changes?: unknown[] };
      if (answer.status !== 200 || parsed.changes?.length !== documents) {
        throw new Error(`connect-pull: the server answered ${answer.status} with ${parsed.changes?.length} changes`);
      }
      responseBytes = bytes.length;

      const fastifyUrl = await fastify.call<string>("start", PULL_PATH, bytes, answer.headers.get("content-type") ?? "application/json");

      const load = async (base: string) => {
        const startAt = nowMs() + 100;
        const results = await Promise.all(
          loaders.map((l) =>
            l.call<LoadResult>("run", { url: base + PULL_PATH, body, headers, concurrency, startAt, durationMs, expectBytes: responseBytes }),
          ),
        );
        const failed = results.reduce((n, r) => n + r.failed, 0);
        if (failed > 0) throw new Error(`connect-pull: ${failed} requests failed against ${base}: ${results.find((r) => r.firstFailure)?.firstFailure}`);
        const completed = results.reduce((n, r) => n + r.completed, 0);
        if (completed === 0) throw new Error(`connect-pull: no request to ${base} completed within ${durationMs} ms`);
        return (completed * 1000) / durationMs;
      };
      rounds = await interleave(
        context.config,
        {
          server: async () => {
            const meter = new CpuMeter([server.pid]);
            const rate = await load(server.url);
            busy.push(meter.cores());
            return rate;
          },
          "bare fastify": () => load(fastifyUrl.replace(/\/$/, "")),
        },
        (line) => context.log(`connect-pull: ${line}`),
      );
    } finally {
      await Promise.all([stopAll(loaders as Worker[]), fastify.stop(), seeder.stop(), context.stopServer(server)]);
    }
    const subject = figure(`Pocket Sync server, Connect JSON Pull of ${documents} documents`, "requests/s", rounds.server!);
    const baseline = figure("bare fastify route, the same bytes", "requests/s", rounds["bare fastify"]!);
    const r = ratio(subject, baseline, "server / bare fastify");
    return {
      id: "connect-pull",
      title: "Connect JSON Pull of 20 documents",
      method:
        `${processes} generator process(es) keep ${concurrency} requests each in flight on keep-alive HTTP/1.1 connections (closed loop), ` +
        `for ${durationMs} ms per round, posting a Connect JSON Pull (limit ${documents}) of a collection holding ${documents} documents; ` +
        "every answer is checked for status 200 and its exact length. The baseline is a fastify route in its own process answering the " +
        "same POST with the bytes the server returned. No Accept-Encoding is sent, so neither side compresses.",
      metrics: [
        { id: "connect-pull", label: `Connect JSON Pull, ${documents} documents`, subject, baseline, ratio: r, target: atLeast(r, 1 / 2, "≥ 1/2 of bare fastify") },
      ],
      context: {
        "response bytes": responseBytes,
        "server CPU (cores busy) under load": summarize(busy).median,
        ...cpuCeiling("request", subject, busy, baseline),
      },
      profiles: context.takeProfiles(),
    };
  },
};
