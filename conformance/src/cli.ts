#!/usr/bin/env node
// pocket-conformance: judges a Pocket Sync server or client by the wire protocol.
//
//   npx tsx conformance/src/cli.ts server --url http://127.0.0.1:8080 --token T [--token2 T2] [--config server-features.yaml]
//   npx tsx conformance/src/cli.ts client [--junit FILE] -- ./my-client --flag
//   npx tsx conformance/src/cli.ts list
import { parseArgs } from "node:util";
import { filterCases, loadCases } from "./cases.js";
import { runClientMode } from "./client-mode.js";
import { loadFeatures } from "./features.js";
import { loadKnownFailing, matchesAny, printResult, summarize, summaryLine, writeJunit, type CaseResult } from "./report.js";
import { runServerMode } from "./server-mode.js";
import { parseProtocol } from "./wire.js";

const HELP = `Usage:
  pocket-conformance server --url URL [options]     judge a running server
  pocket-conformance client [options] -- COMMAND... judge a client (spoken to over the control protocol)
  pocket-conformance list [--mode server|client]    list the cases

Server mode:
  --url URL              the server's base URL
  --token T              bearer token of a principal that may use every collection
  --token2 T2            a second, restricted principal (see auth.* in the config)
  --protocol P           connect-json (default), connect-proto, grpc, grpc-web
  --http-version V       1.1 (default; 2 for grpc) or 2
  --config FILE          server features (YAML); see conformance/reference-server.features.yaml
  --parallel N           cases run at once (default 4)

Client mode:
  runs the reference server itself behind a fault-injecting proxy
  (POCKET_REFERENCE_SERVER overrides its command line)
  --verbose              copy the client's stderr and the server's log to stderr
  --parallel N           cases run at once, each behind its own proxy (default 1)

Both:
  --cases GLOB           only cases whose id or suite matches (repeatable; * matches anything)
  --junit FILE           write JUnit XML
  --known-failing FILE   case ids (globs) expected to fail: reported, but the run passes
  --timeout-ms N         per case (default 60000)`;

function fail(message: string): never {
  console.error(`pocket-conformance: ${message}\n\n${HELP}`);
  process.exit(2);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const dash = argv.indexOf("--");
  const ours = dash >= 0 ? argv.slice(0, dash) : argv;
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  const { values, positionals } = parseArgs({
    args: ours,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      token: { type: "string" },
      token2: { type: "string" },
      protocol: { type: "string" },
      "http-version": { type: "string" },
      config: { type: "string" },
      parallel: { type: "string" },
      cases: { type: "string", multiple: true },
      junit: { type: "string" },
      "known-failing": { type: "string" },
      "timeout-ms": { type: "string" },
      mode: { type: "string" },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const mode = positionals[0];
  const all = filterCases(loadCases(), values.cases ?? []);
  const timeoutMs = values["timeout-ms"] ? Number(values["timeout-ms"]) : 60_000;
  const known = loadKnownFailing(values["known-failing"]);
  const out = (line: string) => console.log(line);
  const report = (r: CaseResult) => printResult(r, out);
  const markKnown = (results: CaseResult[]) =>
    results.map((r) => (r.outcome === "failed" && matchesAny(r.case.id, known) ? { ...r, known: true } : r));

  let results: CaseResult[];
  if (mode === "list") {
    for (const c of all.filter((c) => !values.mode || c.mode === values.mode)) {
      console.log(`${c.mode.padEnd(6)} ${c.id.padEnd(48)} ${c.section.padEnd(6)} ${c.description.split("\n")[0]}`);
    }
    return 0;
  } else if (mode === "server") {
    if (!values.url) fail("server mode needs --url");
    const protocol = parseProtocol(values.protocol ?? "connect-json");
    const httpVersion = (values["http-version"] ?? (protocol === "grpc" ? "2" : "1.1")) as "1.1" | "2";
    if (httpVersion !== "1.1" && httpVersion !== "2") fail("--http-version must be 1.1 or 2");
    results = await runServerMode({
      target: {
        url: values.url.replace(/\/$/, ""),
        protocol,
        httpVersion,
        tokens: { token: values.token, token2: values.token2 },
        features: loadFeatures(values.config),
      },
      cases: all.filter((c) => c.mode === "server"),
      timeoutMs,
      parallel: values.parallel ? Number(values.parallel) : 4,
      onResult: (r) => report(markKnown([r])[0]!),
    });
  } else if (mode === "client") {
    if (command.length === 0) fail("client mode needs the client's command after --");
    results = await runClientMode({
      command,
      cases: all.filter((c) => c.mode === "client"),
      timeoutMs,
      verbose: values.verbose ?? false,
      parallel: values.parallel ? Number(values.parallel) : 1,
      onResult: (r) => report(markKnown([r])[0]!),
    });
  } else {
    fail(mode ? `unknown mode ${mode}` : "give a mode: server, client or list");
  }
  results = markKnown(results);
  const summary = summarize(results, known);
  if (values.junit) writeJunit(values.junit, `pocket-conformance.${mode}`, results);
  for (const id of summary.unexpectedPasses) console.log(`note: ${id} is listed as known failing but passed`);
  console.log(summaryLine(summary));
  return summary.failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`pocket-conformance: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(2);
  },
);
