// The fan-out chart, as hand-written SVG: delivery p50 and p99 (median of
// rounds, with the rounds' min–max as whiskers) against the subscriber count,
// both axes logarithmic, with the targets marked. A hollow point is a lower
// bound: some deliveries never arrived and count at the time waited.
import type { FanoutLevel } from "../workloads/fanout.js";
import { summarize } from "../harness/stats.js";

const WIDTH = 680;
const HEIGHT = 380;
const MARGIN = { left: 90, right: 150, top: 40, bottom: 56 };
const SERIES = [
  { key: "p50" as const, name: "delivery p50", color: "#1f77b4" },
  { key: "p99" as const, name: "delivery p99", color: "#d62728" },
];
const TARGETS = [
  { subscribers: 1000, ms: 50 },
  { subscribers: 5000, ms: 250 },
];

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Powers of ten from below `min` to above `max`. */
function decades(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) out.push(10 ** e);
  return out;
}

export function fanoutChart(levels: readonly FanoutLevel[], title = "Fan-out: push sent → delivered"): string {
  const points = levels.map((level) => {
    const of = (key: "p50" | "p99") => summarize(level.rounds.map((r) => r[key]));
    return { subscribers: level.subscribers, p50: of("p50"), p99: of("p99"), lowerBound: level.rounds.some((r) => r.missing > 0) };
  });
  const values = points.flatMap((p) => [p.p50.min, p.p99.max]).filter((v) => Number.isFinite(v) && v > 0);
  const showTargets = TARGETS.filter((t) => points.some((p) => p.subscribers === t.subscribers));
  values.push(...showTargets.map((t) => t.ms));
  const yTicks = decades(Math.max(0.1, Math.min(...values, 1)), Math.max(...values, 10));
  const xTicks = decades(1, Math.max(...points.map((p) => p.subscribers), 10));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const logX = (v: number) => Math.log10(Math.max(v, 1));
  const x = (v: number) => MARGIN.left + ((logX(v) - logX(xTicks[0]!)) / (logX(xTicks[xTicks.length - 1]!) - logX(xTicks[0]!))) * plotW;
  const yLow = Math.log10(yTicks[0]!);
  const yHigh = Math.log10(yTicks[yTicks.length - 1]!);
  const y = (v: number) => MARGIN.top + plotH - ((Math.log10(Math.max(v, yTicks[0]!)) - yLow) / (yHigh - yLow)) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`);
  out.push(`<text x="${MARGIN.left}" y="22" font-size="14" font-weight="bold">${escape(title)}</text>`);
  for (const t of yTicks) {
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${MARGIN.left - 8}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${t >= 1 ? t.toLocaleString("en-US") : t} ms</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${x(t).toFixed(1)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${t.toLocaleString("en-US")}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#555"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 14}" text-anchor="middle">subscribers (log scale)</text>`);
  out.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">latency from intended send (log scale)</text>`);
  for (const series of SERIES) {
    const path = points.map((p, i) => `${i ? "L" : "M"}${x(p.subscribers).toFixed(1)} ${y(p[series.key].median).toFixed(1)}`).join(" ");
    out.push(`<path d="${path}" fill="none" stroke="${series.color}" stroke-width="2"/>`);
    for (const p of points) {
      const s = p[series.key];
      const cx = x(p.subscribers).toFixed(1);
      out.push(`<line x1="${cx}" x2="${cx}" y1="${y(s.min).toFixed(1)}" y2="${y(s.max).toFixed(1)}" stroke="${series.color}" stroke-width="1"/>`);
      const fill = p.lowerBound ? `fill="#ffffff" stroke="${series.color}" stroke-width="2"` : `fill="${series.color}"`;
      const bound = p.lowerBound ? "at least " : "";
      out.push(`<circle cx="${cx}" cy="${y(s.median).toFixed(1)}" r="3.5" ${fill}><title>${series.name}, ${p.subscribers} subscribers: ${bound}${s.median.toFixed(1)} ms (rounds ${s.min.toFixed(1)}–${s.max.toFixed(1)})</title></circle>`);
    }
  }
  for (const t of showTargets) {
    const cx = x(t.subscribers);
    out.push(`<line x1="${(cx - 10).toFixed(1)}" x2="${(cx + 10).toFixed(1)}" y1="${y(t.ms).toFixed(1)}" y2="${y(t.ms).toFixed(1)}" stroke="#2ca02c" stroke-width="3"><title>target: p99 ≤ ${t.ms} ms at ${t.subscribers}</title></line>`);
  }
  const legendX = MARGIN.left + plotW + 16;
  const legend = [...SERIES.map((s) => ({ color: s.color, name: `${s.name} (median, min–max)`, width: 2 })), ...(showTargets.length ? [{ color: "#2ca02c", name: "p99 target", width: 3 }] : [])];
  if (points.some((p) => p.lowerBound)) {
    const ly = MARGIN.top + 10 + legend.length * 34;
    out.push(`<circle cx="${legendX + 9}" cy="${ly}" r="3.5" fill="#ffffff" stroke="#555" stroke-width="2"/>`);
    out.push(`<text x="${legendX + 24}" y="${ly + 4}">lower bound</text>`);
    out.push(`<text x="${legendX + 24}" y="${ly + 18}" fill="#555">(deliveries missing)</text>`);
  }
  legend.forEach((item, i) => {
    const ly = MARGIN.top + 10 + i * 34;
    out.push(`<line x1="${legendX}" x2="${legendX + 18}" y1="${ly}" y2="${ly}" stroke="${item.color}" stroke-width="${item.width}"/>`);
    const [first, ...rest] = item.name.split(" (");
    out.push(`<text x="${legendX + 24}" y="${ly + 4}">${escape(first!)}</text>`);
    if (rest.length) out.push(`<text x="${legendX + 24}" y="${ly + 18}" fill="#555">(${escape(rest.join(" ("))}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
