// What the server writes per change, probed from a real server: it pushes a
// few thousand documents, stops, and the raw-level peer reads the directory.
// The raw level baselines then write and read entries of the same count and
// sizes (see baselines/level-peer.ts).
import type { Layout } from "../baselines/level-peer.js";
import { startWorker, type Worker } from "../harness/processes.js";
import type { BenchContext } from "./types.js";

let probed: Promise<Layout> | undefined;

export function serverLayout(context: BenchContext, levelPeer: Worker): Promise<Layout> {
  probed ??= probe(context, levelPeer);
  return probed;
}

async function probe(context: BenchContext, levelPeer: Worker): Promise<Layout> {
  const changes = context.config.push.probeChanges;
  const [server, wire] = await Promise.all([context.startServer({ label: "layout-probe" }), startWorker("generators/wire.ts", "probe client")]);
  try {
    await wire.call("connect", server.url);
    await wire.call("push", { collection: "probe", clientId: "probe", idPrefix: "p", from: 0, count: changes, batch: 100 });
  } finally {
    await wire.stop();
    await context.stopServer(server, { keepData: true });
  }
  try {
    const layout = await levelPeer.call<Layout>("probe", server.levelDir, changes);
    context.log(
      `server layout: ${layout.perChange.map((g) => `${JSON.stringify(g.prefix)} ${g.perChange.toFixed(2)}/change, key ${g.keyBytes} B, value ${g.valueBytes} B`).join("; ")}` +
        `; per commit: ${layout.perCommit.map((g) => `${JSON.stringify(g.prefix)} ${g.valueBytes} B`).join(", ")}`,
    );
    return layout;
  } finally {
    server.removeData();
  }
}

/** For the report: the probed layout without the sample bytes. */
export function describeLayout(layout: Layout): Record<string, string | number> {
  const out: Record<string, string | number> = { "bytes per change (keys + values)": Math.round(layout.bytesPerChange) };
  for (const g of layout.perChange) out[`entries ${g.prefix || "(root)"}`] = `${g.perChange.toFixed(2)} per change, key ${g.keyBytes} B, value ${g.valueBytes} B`;
  for (const g of layout.perCommit) out[`entries ${g.prefix || "(root)"}`] = `once per commit, key ${g.keyBytes} B, value ${g.valueBytes} B`;
  return out;
}
