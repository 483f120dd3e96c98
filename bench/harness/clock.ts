// One clock for every bench process. performance.now() counts from each
// process's own start, so a push sent in one process and delivered in another
// could not be compared; process.hrtime reads CLOCK_MONOTONIC, which all
// processes on one machine share.
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Resolves at `atMs` on the shared clock (at once if that has passed). */
export function sleepUntil(atMs: number): Promise<void> {
  const wait = atMs - nowMs();
  return wait <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, wait));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
