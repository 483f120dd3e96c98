// The services a workload gets from the run: config, progress output, and
// servers under test whose CPU profiles are collected when profiling.
import type { BenchConfig } from "../config.js";
import type { BenchContext } from "../workloads/types.js";
import { BenchServer } from "./server-process.js";

export function createContext(config: BenchConfig, options: { profileDir?: string; log?: (line: string) => void } = {}): BenchContext {
  let profiles: string[] = [];
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  return {
    config,
    log,
    startServer: (serverOptions) =>
      BenchServer.start({ ...serverOptions, ...(options.profileDir ? { profileDir: options.profileDir } : {}) }),
    async stopServer(server, stopOptions) {
      const { profile } = await server.stop(stopOptions);
      if (profile) {
        profiles.push(profile);
        log(`CPU profile of the server: ${profile}`);
      }
    },
    takeProfiles() {
      const taken = profiles;
      profiles = [];
      return taken;
    },
  };
}
