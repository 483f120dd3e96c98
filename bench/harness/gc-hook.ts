// Preloaded (--import) into the server process by the idle-memory workload
// only, with --expose-gc: on SIGUSR2 it collects garbage twice and prints the
// heap figures, so the bench reads the server's RSS after a full GC without
// any debug code in the server itself.
const gc = (globalThis as { gc?: () => void }).gc;
process.on("SIGUSR2", () => {
  gc?.();
  gc?.();
  process.stdout.write(`bench-gc ${JSON.stringify({ collected: gc !== undefined, ...process.memoryUsage() })}\n`);
});
