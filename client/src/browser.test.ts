// The browser entry, unchanged, in a real browser: client/src/index.ts bundled
// by esbuild for the browser (level -> browser-level on IndexedDB), loaded by a
// page from its own origin in headless Chromium, syncing with the reference
// server (a child process; CORS) over Connect and gRPC-Web, checked from Node.
//
// Helpers live in ../browser-test/. Needs Chromium at /usr/bin/chromium (or
// POCKET_CHROMIUM): without it the browser cases are skipped locally, and fail
// when CI is set. Every wait is on a condition, with a timeout.
import { rmSync } from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bundleForBrowser, type BrowserBundle } from "../browser-test/bundle.js";
import { chromiumAvailable, CHROMIUM_PATH, launchChromium, serveBundle, type BrowserSession, type StaticServer } from "../browser-test/harness.js";
import type { OpenOptions, StoredTodo, TodoFields } from "../browser-test/page.js";
import { makeClient, serverSnapshot, waitConverged, type TestClient } from "./test-support/harness.js";
import { startServer, waitFor, type ServerProcess } from "./test-support/server-process.js";

describe("the browser bundle", () => {
  it("bundles client/src/index.ts for the browser with no Node builtin, level as browser-level", async () => {
    const bundle = await bundleForBrowser();
    try {
      expect(bundle.inputs).toContain("client/src/index.ts");
      expect(bundle.inputs.some((f) => f.startsWith("node_modules/browser-level/"))).toBe(true);
      expect(bundle.inputs.some((f) => f.startsWith("node_modules/classic-level/") || f.includes("connect-node"))).toBe(false);
    } finally {
      rmSync(bundle.dir, { recursive: true, force: true });
    }
  });
});

const BROWSER_TIMEOUT = 60_000;
const haveChromium = chromiumAvailable();

const skipBrowser = !haveChromium && !process.env.CI;
describe.skipIf(skipBrowser)(
  skipBrowser
    ? `the browser entry in headless Chromium: skipped, Chromium is not at ${CHROMIUM_PATH} (apt-get install -y chromium, or set POCKET_CHROMIUM); CI fails instead`
    : "the browser entry in headless Chromium",
  () => {
  let bundle: BrowserBundle | undefined;
  let web: StaticServer | undefined;
  let server: ServerProcess | undefined;
  const sessions: BrowserSession[] = [];
  const nodeClients: TestClient[] = [];

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`CI is set and Chromium is missing at ${CHROMIUM_PATH}: install it (apt-get install -y chromium)`);
    bundle = await bundleForBrowser();
    web = await serveBundle(bundle.dir);
    server = await startServer({ args: ["--heartbeat-ms", "1000"] });
  }, BROWSER_TIMEOUT);

  afterEach(async () => {
    for (const c of nodeClients.splice(0)) {
      await c.engine.stop();
      await c.db.close();
    }
    for (const s of sessions.splice(0)) await s.close();
  });

  afterAll(async () => {
    await server?.stop();
    await web?.close();
    if (bundle) rmSync(bundle.dir, { recursive: true, force: true });
  });

  // page.evaluate runs these in the page, where ./page.ts put `pocket` on window.
  const inPage = {
    open: (page: Page, o: OpenOptions) => page.evaluate((opts) => window.pocket!.open(opts), o),
    insert: (page: Page, todo: TodoFields & { _id: string }) => page.evaluate((t) => window.pocket!.insert(t), todo),
    all: (page: Page): Promise<StoredTodo[]> => page.evaluate(() => window.pocket!.all()),
    live: (page: Page): Promise<string[]> => page.evaluate(() => window.pocket!.live()),
    pending: (page: Page): Promise<number> => page.evaluate(() => window.pocket!.pendingCount()),
    status: (page: Page): Promise<string> => page.evaluate(() => window.pocket!.status()),
    errors: (page: Page): Promise<string[]> => page.evaluate(() => window.pocket!.errors()),
    idbNames: (page: Page): Promise<string[]> => page.evaluate(() => window.pocket!.indexedDbNames()),
  };

  async function load(session: BrowserSession): Promise<void> {
    const response = await session.page.goto(web!.url, { waitUntil: "load" });
    expect(response?.status()).toBe(200);
    await session.page.waitForFunction(() => window.pocket !== undefined, undefined, { timeout: 15_000 }).catch((e: Error) => {
      throw new Error(`${e.message}\npage log:\n${session.log.join("\n")}`);
    });
  }

  /** Polls the page until `check` holds; the failure names what was last seen. */
  async function waitInPage<T>(session: BrowserSession, read: () => Promise<T>, check: (v: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
    let last: T | undefined;
    await waitFor(async () => check((last = await read())), what, timeoutMs).catch((e: Error) => {
      throw new Error(`${e.message}; last seen: ${JSON.stringify(last)}\npage log:\n${session.log.join("\n")}`);
    });
    return last!;
  }

  it.each(["connect", "grpc-web"] as const)(
    "over %s: a browser write reaches the server, a Node write reaches the live query, IndexedDB survives a reload",
    async (transport) => {
      const url = server!.url;
      const collection = `todos_${transport.replace("-", "_")}`;
      const name = `pocket-browser-${transport}`;
      const session = await launchChromium();
      sessions.push(session);
      const { page } = session;

      // 1. The page opens an IndexedDB-backed database and syncs it.
      await load(session);
      await inPage.open(page, { name, collection, sync: { serverUrl: url, transport } });
      await inPage.insert(page, { _id: "b1", title: "from the browser", done: false });

      // 2. The server has it (read from Node over the wire), and the page's outbox is empty.
      await waitFor(async () => JSON.stringify(await serverSnapshot(url, collection)) === JSON.stringify({ b1: { title: "from the browser", done: false } }), "the server to receive the browser's insert");
      await waitInPage(session, () => inPage.pending(page), (n) => n === 0, "the page's outbox to drain");

      // 3. A Node client (its own engine, Connect over Node's fetch) pushes; the page's live query follows.
      const node = await makeClient(`node-${transport}`, { serverUrl: url, collections: [collection] });
      nodeClients.push(node);
      await node.engine.start();
      expect(await waitConverged(url, [node], collection)).toEqual({ b1: { title: "from the browser", done: false } });
      await node.col(collection).insert({ _id: "n1", title: "from node", done: false });
      await node.col(collection).update("b1", { done: true });
      await waitInPage(session, () => inPage.live(page), (titles) => JSON.stringify(titles) === JSON.stringify(["from node", "from the browser"]), "the live query to show the Node insert");
      const expected = await waitConverged(url, [node], collection);
      expect(expected).toEqual({ b1: { title: "from the browser", done: true }, n1: { title: "from node", done: false } });
      const synced = await waitInPage(
        session,
        () => inPage.all(page),
        (docs) => docs.length === 2 && docs.every((d) => JSON.stringify({ title: d.title, done: d.done }) === JSON.stringify(expected[d._id])),
        "the page to hold the server's state",
      );
      const nodeRevs = Object.fromEntries((await node.col(collection).find()).map((d) => [d._id, d._rev]));
      expect(Object.fromEntries(synced.map((d) => [d._id, d._rev]))).toEqual(nodeRevs);
      expect(await inPage.pending(page)).toBe(0);
      expect(await inPage.errors(page)).toEqual([]);
      expect(await inPage.status(page)).not.toBe("error");
      // A second opener (another tab) would share the client id: it is refused.
      expect(await page.evaluate(() => window.pocket!.openAgain())).toContain("already open in another tab");

      // 4. Reload (no clean shutdown) and open the same database without syncing:
      // everything came back from IndexedDB.
      await page.reload({ waitUntil: "load" });
      await page.waitForFunction(() => window.pocket !== undefined, undefined, { timeout: 15_000 });
      expect(await inPage.status(page)).toBe("none");
      await inPage.open(page, { name, collection });
      expect(await inPage.all(page)).toEqual(synced);
      expect(await inPage.pending(page)).toBe(0);
      await waitInPage(session, () => inPage.live(page), (titles) => JSON.stringify(titles) === JSON.stringify(["from node", "from the browser"]), "the live query after the reload");
      expect((await inPage.idbNames(page)).some((n) => n.includes(name))).toBe(true);
      expect(session.log.filter((l) => l.startsWith("pageerror"))).toEqual([]);
    },
    BROWSER_TIMEOUT,
  );
});
