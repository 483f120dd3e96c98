// The machine a run happened on, for the report's header.
import { cpus, freemem, loadavg, release, totalmem } from "node:os";

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly freeMemoryGiB: number;
  readonly node: string;
  readonly kernel: string;
}

export function machine(): Machine {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? "unknown",
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: `${process.platform} ${release()}`,
  };
}

/** Load averages over 1, 5 and 15 minutes. */
export function loadAverage(): [number, number, number] {
  const [a, b, c] = loadavg();
  return [a!, b!, c!];
}
