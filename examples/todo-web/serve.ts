// `npm run example:web`: starts the reference sync server (a child process, on
// its LevelDB default ./data; arguments are passed to it, e.g. `-- --storage
// memory`), bundles ./app.ts for the browser with esbuild, and serves the page
// on 127.0.0.1:5180 (TODO_WEB_PORT overrides; 0 picks a free port). Open the
// printed URL in two tabs or two browsers. Ctrl-C stops both.
//
// startTodoWeb() does the same for tests and returns the URLs and close().
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(here, "../..");

export interface TodoWebOptions {
  /** Port for the page (default 5180; 0 picks a free one). */
  readonly port?: number;
  /** Extra arguments for the sync server's CLI, e.g. ["--storage", "memory"]. */
  readonly serverArgs?: readonly string[];
  /** Forward the sync server's output to this process's (default true). */
  readonly echoServer?: boolean;
}

export interface TodoWeb {
  /** The page. */
  readonly url: string;
  /** The sync server the page talks to. */
  readonly serverUrl: string;
  close(): Promise<void>;
}

/** Starts the sync server as a child process and resolves with its URL once it prints "listening on". */
function startSyncServer(args: readonly string[], echo: boolean): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "server/src/serve/cli.ts", "--port", "0", "--log-level", "warn", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  return new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the sync server did not start within 20 s:\n${output}`));
    }, 20_000);
    child.stderr!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (echo) process.stderr.write(chunk);
    });
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (echo) process.stdout.write(chunk);
      const match = output.match(/listening on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolveUrl({ child, url: match[1]! });
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the sync server exited (${signal ?? `code ${code}`}) before listening:\n${output}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(kill);
      done();
    });
    child.kill("SIGTERM");
  });
}

/** app.ts as one browser ESM file (plus its source map), in memory. */
async function bundleApp(): Promise<Map<string, Uint8Array>> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { app: resolve(here, "app.ts") },
    outdir: resolve(here, "out"), // not written: write is false
    write: false,
    bundle: true,
    platform: "browser", // `level` resolves to browser-level (IndexedDB) through its "browser" field
    format: "esm",
    target: "es2022",
    sourcemap: true,
    logLevel: "silent",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  return new Map(result.outputFiles.map((f) => [`/${f.path.slice(f.path.lastIndexOf("/") + 1)}`, f.contents]));
}

export async function startTodoWeb(options: TodoWebOptions = {}): Promise<TodoWeb> {
  const [files, server] = await Promise.all([bundleApp(), startSyncServer(options.serverArgs ?? [], options.echoServer ?? true)]);
  const html = readFileSync(resolve(here, "index.html"), "utf8").replace(
    "</head>",
    `<script>window.POCKET_SYNC_URL = ${JSON.stringify(server.url)};</script>\n  </head>`,
  );
  const types: Record<string, string> = { ".js": "text/javascript; charset=utf-8", ".map": "application/json; charset=utf-8" };
  const web = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path === "/" || path === "/index.html") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(html);
      return;
    }
    const body = files.get(path);
    const type = types[path.slice(path.lastIndexOf("."))];
    if (!body || !type) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": type, "cache-control": "no-store" }).end(body);
  });
  try {
    await new Promise<void>((ok, fail) => {
      web.once("error", fail);
      web.listen(options.port ?? 5180, "127.0.0.1", () => ok());
    });
  } catch (e) {
    await stopChild(server.child);
    throw e;
  }
  const { port } = web.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    serverUrl: server.url,
    async close() {
      web.closeAllConnections();
      await Promise.all([new Promise<void>((done) => web.close(() => done())), stopChild(server.child)]);
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const port = process.env.TODO_WEB_PORT === undefined ? 5180 : Number(process.env.TODO_WEB_PORT);
  const app = await startTodoWeb({ port, serverArgs: process.argv.slice(2) }).catch((e: Error & { code?: string }) => {
    console.error(e.code === "EADDRINUSE" ? `port ${port} is in use: set TODO_WEB_PORT (0 picks a free port)` : e.message);
    process.exit(1);
  });
  console.log(`\nPocket Sync todos: open ${app.url} in two tabs (or two browsers) and add todos.`);
  console.log(`Each tab is its own device with its own IndexedDB; "Go offline" keeps writing locally.`);
  console.log("Ctrl-C stops the page server and the sync server.");
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      void app.close().then(() => process.exit(0));
    });
  }
}
