import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { selfTimes, summarizeProfile } from "./profile-summary.js";

// A profile of a root calling parse (3 samples) and encode (1 sample), with
// 1 ms between samples, plus idle time.
const profile = {
  nodes: [
    { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1 }, children: [2, 3, 4] },
    { id: 2, callFrame: { functionName: "parse", url: "file:///app/a.js", lineNumber: 9 } },
    { id: 3, callFrame: { functionName: "encode", url: "file:///app/b.js", lineNumber: 0 } },
    { id: 4, callFrame: { functionName: "(idle)", url: "", lineNumber: -1 } },
  ],
  startTime: 0,
  endTime: 7000,
  samples: [2, 2, 3, 2, 4, 4, 4],
  timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000],
};

describe("profile summary", () => {
  const dir = mkdtempSync(join(tmpdir(), "profile-summary-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("adds up self time per function from the sample deltas, largest first", () => {
    const times = selfTimes(profile);
    expect(times.map((t) => [t.name, t.ms])).toEqual([
      ["parse", 3],
      ["(idle)", 2],
      ["encode", 1],
    ]);
    expect(times[0]!.location).toMatch(/a\.js:10$/);
  });

  it("prints busy shares without the idle time", () => {
    const file = join(dir, "x.cpuprofile");
    writeFileSync(file, JSON.stringify(profile));
    const text = summarizeProfile(file, 5);
    expect(text).toMatch(/3\s+75\.0\s+parse/);
    expect(text).toMatch(/1\s+25\.0\s+encode/);
    expect(text).not.toMatch(/\d\s+\(idle\)/);
  });
});
