// Prints the functions with the most self time in a V8 CPU profile
// (.cpuprofile, as `node --cpu-prof` or `npm run bench -- --profile` writes):
//
//   node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top 25]
//
// Self time is the time a function ran its own code, not its callees; the
// hit counts of its nodes spread the profile's duration over them.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly location: string;
  readonly ms: number;
  readonly share: number;
}

function where(url: string, line: number): string {
  if (!url) return "(native)";
  let path = url;
  try {
    if (url.startsWith("file://")) path = relative(process.cwd(), fileURLToPath(url));
  } catch {
    // keep the URL as it is
  }
  return `${path}:${line + 1}`;
}

/** Self time per function (name + location), largest first. Idle and GC stay visible as V8 names them. */
export function selfTimes(profile: CpuProfile): SelfTime[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const microsByNode = new Map<number, number>();
  if (profile.samples && profile.timeDeltas && profile.samples.length === profile.timeDeltas.length) {
    // Each sample's time is the delta to the next sample.
    for (let i = 0; i < profile.samples.length; i++) {
      const next = profile.timeDeltas[i + 1] ?? 0;
      microsByNode.set(profile.samples[i]!, (microsByNode.get(profile.samples[i]!) ?? 0) + Math.max(0, next));
    }
  } else {
    const hits = profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0);
    const per = hits ? (profile.endTime - profile.startTime) / hits : 0;
    for (const node of profile.nodes) microsByNode.set(node.id, (node.hitCount ?? 0) * per);
  }
  const total = [...microsByNode.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, { name: string; location: string; micros: number }>();
  for (const [id, micros] of microsByNode) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const name = frame.functionName || "(anonymous)";
    const location = where(frame.url, frame.lineNumber);
    const key = `${name}\u0000${location}`;
    const entry = byFunction.get(key) ?? { name, location, micros: 0 };
    entry.micros += micros;
    byFunction.set(key, entry);
  }
  return [...byFunction.values()]
    .map((e) => ({ name: e.name, location: e.location, ms: e.micros / 1000, share: total ? e.micros / total : 0 }))
    .sort((a, b) => b.ms - a.ms);
}

/** A plain-text table of the top `top` functions, busy time first (idle excluded from the shares). */
export function summarizeProfile(file: string, top = 25): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const all = selfTimes(profile);
  const idle = all.filter((e) => e.name === "(idle)" || e.name === "(program)");
  const busy = all.filter((e) => !idle.includes(e));
  const busyMs = busy.reduce((n, e) => n + e.ms, 0);
  const lines = [
    `${file}: ${(((profile.endTime - profile.startTime) / 1e6)).toFixed(1)} s profiled, ${(busyMs / 1000).toFixed(1)} s busy` +
      ` (${idle.map((e) => `${e.name} ${(e.ms / 1000).toFixed(1)} s`).join(", ") || "no idle samples"})`,
    "  self ms   busy %  function (location)",
  ];
  for (const e of busy.slice(0, top)) {
    lines.push(`${e.ms.toFixed(0).padStart(9)}  ${((e.ms / busyMs) * 100).toFixed(1).padStart(6)}  ${e.name} (${e.location})`);
  }
  return `${lines.join("\n")}\n`;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf("--top");
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
  const files = topAt >= 0 ? args.filter((_, i) => i !== topAt && i !== topAt + 1) : args;
  if (files.length === 0 || !Number.isInteger(top) || top <= 0) {
    console.error("usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile... [--top N]");
    process.exit(2);
  }
  for (const file of files) console.log(summarizeProfile(file, top));
}
