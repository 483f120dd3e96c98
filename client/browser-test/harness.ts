// Test support for the browser test (client/src/browser.test.ts): a static
// server for the page and the bundle, and headless Chromium via playwright-core.
//
// Chromium is the system one (Debian: `apt-get install -y chromium`), never a
// Playwright download. It runs on a closed network, so everything that would
// phone home is switched off, and each launch gets a fresh profile directory.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/** The browser to drive; POCKET_CHROMIUM overrides the Debian path. */
export const CHROMIUM_PATH = process.env.POCKET_CHROMIUM ?? "/usr/bin/chromium";

export const chromiumAvailable = (): boolean => existsSync(CHROMIUM_PATH);

const PAGE = `<!doctype html>
<html>
  <head><meta charset="utf-8"><title>Pocket Sync browser test</title></head>
  <body>
    <script type="module" src="/page.js"></script>
  </body>
</html>
`;

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".html": "text/html; charset=utf-8",
};

export interface StaticServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the test page at / and the files of `dir` (the bundle) on 127.0.0.1. */
export async function serveBundle(dir: string): Promise<StaticServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path === "/" || path === "/index.html") {
      res.writeHead(200, { "content-type": TYPES[".html"]!, "cache-control": "no-store" }).end(PAGE);
      return;
    }
    const file = normalize(join(dir, path));
    if (!file.startsWith(dir) || !existsSync(file) || !TYPES[extname(file)]) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)]!, "cache-control": "no-store" }).end(readFileSync(file));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface BrowserSession {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Uncaught page errors and console errors, for failure messages. */
  readonly log: string[];
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile (its own IndexedDB), and one page. */
export async function launchChromium(): Promise<BrowserSession> {
  if (!chromiumAvailable()) throw new Error(`Chromium not found at ${CHROMIUM_PATH}: apt-get install -y chromium (or set POCKET_CHROMIUM)`);
  const profile = mkdtempSync(join(tmpdir(), "pocket-chromium-"));
  let context: BrowserContext;
  try {
    // launchPersistentContext is how Playwright takes --user-data-dir.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      timeout: 30_000,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const log: string[] = [];
  page.on("pageerror", (e) => log.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") log.push(`console.${m.type()}: ${m.text()}`);
  });
  return {
    context,
    page,
    log,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
