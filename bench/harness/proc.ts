// What the kernel says a process uses: CPU time and resident memory, read from
// /proc (Linux). The server's own view (process.memoryUsage) would miss what
// Node's HTTP/2 and libuv hold outside the JS heap.
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User plus system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; fields after its ")" are fixed.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicks();
}

/** Resident set size in KiB (VmRSS). */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]);
}

/** CPU use of a set of processes over an interval, as a fraction of one core. */
export class CpuMeter {
  private readonly start: Map<number, number>;
  private readonly startedAt = performance.now();
  constructor(private readonly pids: readonly number[]) {
    this.start = new Map(pids.map((p) => [p, cpuSeconds(p)]));
  }
  /** CPU seconds used since construction, summed over the processes. */
  seconds(): number {
    let total = 0;
    for (const pid of this.pids) {
      try {
        total += cpuSeconds(pid) - this.start.get(pid)!;
      } catch {
        // the process is gone: it used nothing we can still see
      }
    }
    return total;
  }
  /** Cores kept busy on average (1 = one core saturated). */
  cores(): number {
    const elapsed = (performance.now() - this.startedAt) / 1000;
    return elapsed > 0 ? this.seconds() / elapsed : 0;
  }
}
