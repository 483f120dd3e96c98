import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/src/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**", "bench/peers/**"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // The default output, then what was skipped and why.
    reporters: ["default", "./test/skip-reasons-reporter.ts"],
  },
});
