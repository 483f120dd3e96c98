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
  for (const [metric, ratio] of Object.entries(results)) console.log(`  ${metric}: ${ratio.toFixed(2)}x`);
}
