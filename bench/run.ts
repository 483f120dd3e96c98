// `npm run bench`: every benchmark reports ratios against a baseline measured
// in the same run, so results compare across machines.
import { run as documentEncoding } from "./document-encoding.js";
import { run as server } from "./server.js";

const suites: Array<[string, () => Promise<Record<string, number>> | Record<string, number>]> = [
  ["document encoding", documentEncoding],
  ["server", server],
];

for (const [name, suite] of suites) {
  console.log(`\n${name}`);
  const results = await suite();
  for (const [metric, value] of Object.entries(results)) {
    // Ratios are the results; an absolute figure is labelled "(absolute)" and shown for context.
    console.log(`  ${metric}: ${metric.includes("(absolute)") ? Math.round(value).toString() : `${value.toFixed(2)}x`}`);
  }
}
