import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/src/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**", "bench/peers/**"],
    // Most test files spend their time waiting on servers and child processes,
    // not computing: vitest's default of one worker per core but one leaves a
    // two-core machine (CI's) running them one at a time, half idle.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // The default output, then what was skipped and why.
    reporters: ["default", "./test/skip-reasons-reporter.ts"],
  },
});
