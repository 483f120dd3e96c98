// `npm run demo`, the README's first command, as a newcomer runs it: it must
// finish by itself, print its steps in order without repeating itself, and
// leave nothing behind (its store is a temporary directory).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";

describe("npm run demo", () => {
  it("exits 0 by itself, prints steps 1 to 5 in order with no line twice, and removes its temporary store", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "examples/demo.ts"], { encoding: "utf8", timeout: 90_000 });
    expect(run.error).toBeUndefined(); // a timeout: the demo kept serving
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout.split("\n").filter((l) => l.trim() !== "");
    const steps = lines.filter((l) => /^\d\. /.test(l)).map((l) => l[0]);
    expect(steps).toEqual(["1", "2", "3", "4", "5"]);
    // Every step says something under its own heading (step 1's first result printed under step 2 before).
    for (const step of ["1", "2", "3", "4", "5"]) {
      const at = lines.findIndex((l) => l.startsWith(`${step}. `));
      expect(lines[at + 1], `step ${step}`).toMatch(/^ {2}\S/);
    }
    const repeated = lines.filter((l, i) => i > 0 && l === lines[i - 1]);
    expect(repeated).toEqual([]);
    const store = run.stdout.match(/storage: LevelDB in (\S+?),/)?.[1];
    expect(store).toMatch(/pocket-demo-/);
    expect(existsSync(store!)).toBe(false);
    expect(run.stdout).toMatch(/Demo done/);
  }, 120_000);

  it("--help says how to keep serving and where the data goes", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "examples/demo.ts", "--help"], { encoding: "utf8", timeout: 30_000 });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/--keep-serving/);
    expect(run.stdout).toMatch(/--data-dir/);
  });
});
