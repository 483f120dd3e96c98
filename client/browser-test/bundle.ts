// Bundles the browser entry (client/src/index.ts) for browsers with esbuild,
// exactly as an app's bundler would: platform "browser", ESM, the "browser"
// field and condition honoured (so `level` is browser-level on IndexedDB, not
// classic-level). Any Node builtin the graph reaches fails the build: an
// unresolvable import, a `browser: { fs: false }` stub, or a `node:` specifier.
//
// Two files come out: pocket-client.js (the entry itself, its exports intact)
// and page.js (the test page's harness, ./page.ts), which imports the entry
// from ./pocket-client.js rather than bundling a second copy.
import { mkdtempSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type BuildOptions, type Message, type Metafile, type Plugin } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
export const CLIENT_ENTRY = resolve(here, "../src/index.ts");
const PAGE_ENTRY = resolve(here, "page.ts");
const ROOT = resolve(here, "../..");

export interface BrowserBundle {
  /** The directory holding pocket-client.js, page.js and their source maps. */
  readonly dir: string;
  /** Every input file esbuild put into pocket-client.js, relative to the repo root. */
  readonly inputs: readonly string[];
}

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const isBuiltin = (spec: string) => spec.startsWith("node:") || BUILTINS.has(spec) || BUILTINS.has(spec.split("/")[0]!);

const common = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: "browser",
  format: "esm",
  target: "es2022",
  // The defaults for platform "browser", spelled out: this is the point of the test.
  mainFields: ["browser", "module", "main"],
  conditions: ["browser", "module"],
  sourcemap: true,
  metafile: true,
  logLevel: "silent",
  define: { "process.env.NODE_ENV": '"production"' },
} satisfies BuildOptions;

/**
 * Records every import of a Node builtin. A bare name that resolves to an npm
 * package of that name (the userland `buffer` or `events`, as browser bundles
 * use) is a dependency, not a builtin, and is allowed; `node:` never is.
 */
function forbidNodeBuiltins(found: string[]): Plugin {
  const SKIP = Symbol("forbid-node-builtins");
  return {
    name: "forbid-node-builtins",
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === SKIP || !isBuiltin(args.path)) return undefined;
        const where = `${args.path} (imported by ${args.importer || "<entry>"})`;
        if (args.path.startsWith("node:")) {
          found.push(where);
          return undefined;
        }
        const r = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: SKIP });
        const npmPackage = r.errors.length === 0 && !r.external && r.path.includes(`/node_modules/${args.path.split("/")[0]}/`);
        if (!npmPackage) found.push(`${where}: no npm package of that name; add it (e.g. \`npm install ${args.path.split("/")[0]}\`) or stop importing it`);
        return undefined;
      });
    },
  };
}

function check(what: string, errors: readonly Message[], warnings: readonly Message[], builtins: readonly string[], metafile: Metafile): void {
  const text = (m: Message) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ""}${m.text}`;
  const problems = [
    ...errors.map((m) => `error: ${text(m)}`),
    ...warnings.map((m) => `warning: ${text(m)}`),
    ...builtins.map((b) => `Node builtin: ${b}`),
    // A package's "browser" field can map a module to false; esbuild then
    // substitutes an empty module, marked "(disabled):" in the metafile.
    ...Object.keys(metafile.inputs)
      .filter((f) => f.includes("(disabled)") || /node_modules\/classic-level\//.test(f))
      .map((f) => `Node-only input: ${f}`),
  ];
  if (problems.length) throw new Error(`bundling ${what} for the browser failed:\n  ${problems.join("\n  ")}`);
}

/** Builds into a fresh temporary directory (or `outdir`); throws on any problem listed above. */
export async function bundleForBrowser(outdir: string = mkdtempSync(join(tmpdir(), "pocket-browser-"))): Promise<BrowserBundle> {
  const clientBuiltins: string[] = [];
  const client = await build({
    ...common,
    entryPoints: { "pocket-client": CLIENT_ENTRY },
    outdir,
    plugins: [forbidNodeBuiltins(clientBuiltins)],
  }).catch((e: { errors?: Message[]; warnings?: Message[] }) => {
    if (!e.errors) throw e;
    check("client/src/index.ts", e.errors, e.warnings ?? [], clientBuiltins, { inputs: {}, outputs: {} });
    throw e;
  });
  check("client/src/index.ts", client.errors, client.warnings, clientBuiltins, client.metafile);

  const inputs = Object.keys(client.metafile.inputs);
  if (!inputs.some((f) => f.includes("node_modules/browser-level/"))) {
    throw new Error(`the bundle does not contain browser-level: "level" did not resolve through its "browser" field`);
  }

  const pageBuiltins: string[] = [];
  const page = await build({
    ...common,
    entryPoints: { page: PAGE_ENTRY },
    outdir,
    plugins: [
      forbidNodeBuiltins(pageBuiltins),
      {
        // The page uses the entry bundled above, not a copy of its own.
        name: "client-entry-external",
        setup(b) {
          b.onResolve({ filter: /\/src\/index\.js$/ }, (args) =>
            resolve(args.resolveDir, args.path.replace(/\.js$/, ".ts")) === CLIENT_ENTRY ? { path: "./pocket-client.js", external: true } : undefined,
          );
        },
      },
    ],
  });
  check("client/browser-test/page.ts", page.errors, page.warnings, pageBuiltins, page.metafile);
  if (Object.keys(page.metafile.inputs).some((f) => f.includes("client/src/"))) {
    throw new Error("page.js bundled client sources instead of importing ./pocket-client.js");
  }
  return { dir: outdir, inputs };
}
