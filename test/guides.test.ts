// The shell blocks of README.md and docs/CONFORMANCE.md, run as written, so a
// guide cannot rot: each command line (continuation lines joined) runs in
// order, in a directory of links to this repository (so files it writes, like
// ./data, land there), against fresh servers. A line that starts the server
// (`npm start`, without --help) is started and awaited until it listens, and
// stopped when a later line starts another on its port, as a user would with
// Ctrl-C; every other line must exit 0. The ports the docs name (8080, 9000)
// are mapped to free ones. A few commands are proven elsewhere, each named
// below with where; the list is checked against the docs, so it cannot go stale.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const DOCS = ["README.md", "docs/CONFORMANCE.md"];

/** Commands not run here, and where they are proven instead. */
const PROVEN_ELSEWHERE: { match: RegExp; where: string }[] = [
  { match: /^npm ci && npm run demo\b/, where: ".ci/run runs npm ci on a fresh clone; test/demo.test.ts runs the demo (npm ci here would replace node_modules under the running tests)" },
  { match: /^npm ci && npm test\b/, where: ".ci/run runs it first, on a fresh clone" },
  { match: /^npm run bench\b/, where: "minutes of load on the whole machine; bench/**/*.test.ts test the harness and the report" },
  { match: /^node --import tsx bench\/profile-summary\.ts FILE\.cpuprofile/, where: "needs a profile from npm run bench -- --profile; bench tests cover profile-summary" },
  { match: /^bash conformance\/run-ci\.sh\b/, where: ".ci/run runs it" },
  { match: /^POCKET_CONFORMANCE_STABILITY_RUNS=20 npx vitest run conformance\/src\/stability\.test\.ts/, where: ".ci/run runs it whenever conformance/ changed (twenty runs take minutes)" },
  { match: /^npm run cluster\b/, where: "it serves until Ctrl-C; conformance/run-ci.sh, run by .ci/run, starts scripts/cluster.sh and judges it over every protocol" },
  { match: /^npm run conformance:mutants\b/, where: ".ci/run runs its fast subset; conformance/src/mutants.test.ts checks every catalogued fault still applies" },
  { match: /^(npm run generate|npx buf generate|bash scripts\/setup-python\.sh && PATH=.* npx buf generate|bash scripts\/check-stubs\.sh)\b/, where: ".ci/run runs scripts/check-stubs.sh, which runs each (regenerating gen/ here would rewrite files other tests are reading)" },
  { match: /^(go mod edit -replace github\.com\/pocket-sync|go get github\.com\/pocket-sync|pip install \$POCKET)/, where: "scripts/check-language-packages.sh, run by .ci/run, does it in an empty Go module and venv" },
];

interface Command {
  readonly doc: string;
  readonly line: number;
  readonly text: string;
}

/** The command lines of a markdown file's ```sh blocks, continuation lines joined. */
export function shellCommands(doc: string, markdown: string): Command[] {
  const commands: Command[] = [];
  const lines = markdown.split("\n");
  let inBlock = false;
  let indent = "";
  let pending: { line: number; text: string } | undefined;
  lines.forEach((raw, i) => {
    const fence = raw.match(/^(\s*)```(\w*)\s*$/);
    if (fence) {
      inBlock = !inBlock && fence[2] === "sh";
      indent = fence[1]!;
      return;
    }
    if (!inBlock) return;
    const text = raw.startsWith(indent) ? raw.slice(indent.length) : raw.trimStart();
    if (!pending && (text.trim() === "" || text.trimStart().startsWith("#"))) return;
    pending = pending ? { line: pending.line, text: `${pending.text}\n${text}` } : { line: i + 1, text };
    if (!/\\\s*$/.test(text)) {
      commands.push({ doc, line: pending.line, text: pending.text });
      pending = undefined;
    }
  });
  return commands;
}

const starts = (command: Command) => /^npm start\b/.test(command.text) && !/--help\b/.test(command.text);
const provenElsewhere = (command: Command) => PROVEN_ELSEWHERE.find((p) => p.match.test(command.text));

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
    server.on("error", reject);
  });
}

/** A directory whose entries link to the repository's, so commands write their files there. */
function linkedCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "pocket-guides-"));
  for (const entry of new Set([...readdirSync(ROOT), ".venv"])) {
    if (entry === ".git") continue;
    // Copies of the files a command may rewrite (go get edits go.mod), links for the rest.
    if (entry === "go.mod" || entry === "go.sum") copyFileSync(join(ROOT, entry), join(dir, entry));
    else symlinkSync(join(ROOT, entry), join(dir, entry));
  }
  return dir;
}

describe("the guides' shell blocks", () => {
  const all = DOCS.flatMap((doc) => shellCommands(doc, readFileSync(join(ROOT, doc), "utf8")));

  it("are found, and every exemption still names a command of the docs", () => {
    expect(all.length).toBeGreaterThan(15);
    for (const { match } of PROVEN_ELSEWHERE) expect(all.some((c) => match.test(c.text)), String(match)).toBe(true);
  });

  for (const doc of DOCS) {
    describe(doc, () => {
      const commands = all.filter((c) => c.doc === doc);
      const servers = new Map<number, ChildProcess>();
      const ports = new Map<string, number>();
      let dir = "";

      beforeAll(async () => {
        dir = linkedCopy();
        for (const c of commands) for (const m of c.text.matchAll(/(?:127\.0\.0\.1:|--port )(\d{4,5})\b/g)) ports.set(m[1]!, 0);
        ports.set("8080", 0); // npm start's default
        for (const port of ports.keys()) ports.set(port, await freePort());
      });

      afterAll(async () => {
        await Promise.all([...servers.values()].map(stop));
        rmSync(dir, { recursive: true, force: true });
      }, 30_000);

      /** The command with the docs' ports replaced by this run's. */
      const localised = (text: string) =>
        text.replace(/(127\.0\.0\.1:|--port )(\d{4,5})\b/g, (whole, prefix: string, port: string) => `${prefix}${ports.get(port) ?? port}`);

      for (const command of commands) {
        const where = provenElsewhere(command);
        const title = `${doc}:${command.line} ${command.text.split("\n")[0]!.replace(/\s+#.*$/, "").trim()}`;
        if (where) {
          it.skip(`${title}: skipped here; proven elsewhere: ${where.where}`, () => {});
          continue;
        }
        it(title, async () => {
          const text = localised(command.text);
          if (starts(command)) {
            const port = Number(text.match(/--port (\d+)/)?.[1] ?? ports.get("8080"));
            const previous = servers.get(port);
            if (previous) await stop(previous);
            servers.set(port, await startServer(text, dir, port));
            return;
          }
          const run = spawnSync("bash", ["-o", "pipefail", "-ec", text], { cwd: dir, encoding: "utf8", timeout: 540_000, env: { ...process.env, CI: process.env.CI ?? "" } });
          expect(run.error, `${title} did not finish`).toBeUndefined();
          expect(run.status, `${title} failed:\n${run.stdout}\n${run.stderr}`).toBe(0);
        }, 600_000);
      }
    });
  }
});

/** Starts a server line as a process group and resolves once it listens. */
async function startServer(text: string, cwd: string, port: number): Promise<ChildProcess> {
  const child = spawn("bash", ["-c", `exec ${text}`], { cwd, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PORT: String(port) } });
  let out = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  await new Promise<void>((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening after 60 s: ${text}\n${out}`)), 60_000);
    child.stdout!.on("data", () => {
      if (/listening on http:\/\//.test(out)) {
        clearTimeout(timer);
        resolveStart();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}: ${text}\n${out}`));
    });
  });
  return child;
}

/** Ctrl-C: SIGINT to the whole process group (npm, the shell, node), then its exit. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  process.kill(-child.pid!, "SIGINT");
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}
