// Logs an operator reads on a terminal: one short line per event instead of
// pino's JSON (which stays the format for files, pipes and log collectors).
// Formats the JSON lines pino writes, so no field is lost.

const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: "TRACE", color: "\x1b[90m" },
  20: { name: "DEBUG", color: "\x1b[36m" },
  30: { name: "INFO", color: "\x1b[32m" },
  40: { name: "WARN", color: "\x1b[33m" },
  50: { name: "ERROR", color: "\x1b[31m" },
  60: { name: "FATAL", color: "\x1b[35m" },
};
const RESET = "\x1b[0m";
const DIM = "\x1b[2m";
/** pino's own fields, and the ones a line shows in its own way. */
const SHOWN_APART = new Set(["level", "time", "pid", "hostname", "msg", "req", "res", "responseTime", "err", "v"]);

/** One pino JSON line as a readable line (a line that is not JSON is kept as it is). */
export function formatLogLine(line: string, color = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.replace(/\n$/, "");
  }
  const paint = (code: string, text: string) => (color ? `${code}${text}${RESET}` : text);
  const level = LEVELS[entry.level as number] ?? { name: String(entry.level ?? "LOG").toUpperCase(), color: "" };
  const parts = [paint(DIM, timeOfDay(entry.time)), paint(level.color, level.name.padEnd(5)), String(entry.msg ?? "")];
  const req = entry.req as { method?: string; url?: string; remoteAddress?: string } | undefined;
  if (req?.method) parts.push(`${req.method} ${req.url ?? ""}${req.remoteAddress ? ` from ${req.remoteAddress}` : ""}`);
  const res = entry.res as { statusCode?: number } | undefined;
  if (res?.statusCode !== undefined) parts.push(String(res.statusCode));
  if (typeof entry.responseTime === "number") parts.push(`in ${entry.responseTime.toFixed(1)} ms`);
  for (const [key, value] of Object.entries(entry)) {
    if (!SHOWN_APART.has(key) && value !== undefined) parts.push(paint(DIM, `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`));
  }
  let text = parts.filter(Boolean).join(" ");
  const err = entry.err as { message?: string; stack?: string } | undefined;
  if (err) text += `\n${indent(err.stack ?? err.message ?? JSON.stringify(err))}`;
  return text;
}

/** A pino destination that writes formatted lines to `out`. */
export function prettyLogStream(out: { write(text: string): unknown }, color = false): { write(line: string): void } {
  return { write: (line) => void out.write(`${formatLogLine(line, color)}\n`) };
}

function timeOfDay(time: unknown): string {
  const date = typeof time === "number" ? new Date(time) : new Date();
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function indent(text: string): string {
  return text.split("\n").map((l) => `    ${l}`).join("\n");
}
