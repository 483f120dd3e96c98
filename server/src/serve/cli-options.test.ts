// --help is the operator's reference: every flag must be in it with the
// environment variable the CLI really reads for it (before, six flags had a
// variable that --help never named).
import { describe, expect, it } from "vitest";
import { CLI_OPTIONS, ENV, HELP, type Flag } from "./cli-options.js";
import { runCliToExit } from "./testing-cli.js";

/** The text --help gives one flag: from its name to the next flag or blank line. */
function helpOf(flag: string): string | undefined {
  const lines = HELP.split("\n");
  const at = lines.findIndex((l) => l.trimStart().startsWith(`--${flag} `) || l.trim() === `--${flag}`);
  if (at < 0) return undefined;
  const block = [lines[at]!];
  for (const line of lines.slice(at + 1)) {
    if (line.trim() === "" || line.trimStart().startsWith("--")) break;
    block.push(line);
  }
  return block.join(" ").replace(/\s+/g, " ");
}

describe("--help", () => {
  const flags = Object.keys(CLI_OPTIONS).filter((f): f is Flag => f !== "help");

  it.each(flags)("lists --%s with its environment variable", (flag) => {
    const text = helpOf(flag);
    expect(text, `--${flag} is missing from --help`).toBeDefined();
    expect(text).toContain(`env ${ENV[flag]}`);
  });

  it("names no variable the CLI does not read, and every variable once", () => {
    const named = [...HELP.matchAll(/env\s+([A-Z_]+)/g)].map((m) => m[1]);
    expect(new Set(named)).toEqual(new Set(Object.values(ENV)));
    expect(named.length).toBe(Object.values(ENV).length);
  });

  it("is what the process prints", async () => {
    const run = await runCliToExit(["--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(HELP);
  });
});
