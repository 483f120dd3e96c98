// examples/todo-web end to end: serve.ts (sync server child process + the
// bundled page), two headless Chromium instances with separate profiles (two
// devices, separate IndexedDB), driven through the page's own UI.
//
// Needs Chromium at /usr/bin/chromium (or POCKET_CHROMIUM): without it this is
// skipped locally and fails when CI is set. Every wait is on a condition, with
// a timeout.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumAvailable, CHROMIUM_PATH, launchChromium, type BrowserSession } from "../client/browser-test/harness.js";
import { startTodoWeb, type TodoWeb } from "../examples/todo-web/serve.js";

const haveChromium = chromiumAvailable();
const WAIT = { timeout: 10_000 };

const skipBrowser = !haveChromium && !process.env.CI;
describe.skipIf(skipBrowser)(
  skipBrowser
    ? `examples/todo-web in two browsers: skipped, Chromium is not at ${CHROMIUM_PATH} (apt-get install -y chromium, or set POCKET_CHROMIUM); CI fails instead`
    : "examples/todo-web in two browsers",
  () => {
    let app: TodoWeb | undefined;
    const sessions: BrowserSession[] = [];

    beforeAll(async () => {
      if (!haveChromium) throw new Error(`CI is set and Chromium is missing at ${CHROMIUM_PATH}: install it (apt-get install -y chromium)`);
      const [started, ...browsers] = await Promise.all([
        startTodoWeb({ port: 0, serverArgs: ["--storage", "memory", "--heartbeat-ms", "1000"], echoServer: false }),
        launchChromium(),
        launchChromium(),
      ]);
      app = started;
      sessions.push(...browsers);
    }, 30_000);

    afterAll(async () => {
      for (const s of sessions.splice(0)) await s.close();
      await app?.close();
    }, 20_000);

    async function open(session: BrowserSession): Promise<Page> {
      const { page } = session;
      expect((await page.goto(app!.url, { waitUntil: "load" }))?.status()).toBe(200);
      await page.waitForSelector('body[data-ready="true"]', WAIT).catch((e: Error) => {
        throw new Error(`${e.message}\npage log:\n${session.log.join("\n")}`);
      });
      return page;
    }

    const item = (page: Page, title: string) => page.locator("#list li", { hasText: title });
    const add = async (page: Page, title: string) => {
      await page.fill("#new-title", title);
      await page.press("#new-title", "Enter");
    };

    it("syncs adds, toggles, deletes and offline writes between two devices, live", async () => {
      const [a, b] = await Promise.all(sessions.map(open)) as [Page, Page];
      // Two devices: separate profiles, so separate IndexedDB databases and client ids.
      expect(await a.textContent("#device")).not.toBe(await b.textContent("#device"));
      await expect.poll(() => a.getAttribute("#status", "data-status"), WAIT).toBe("idle");

      // Add on A: shown at once (local first), reaches B through the server.
      await add(a, "Buy milk");
      await item(a, "Buy milk").waitFor(WAIT);
      await item(b, "Buy milk").waitFor(WAIT);
      await expect.poll(() => b.textContent("#count"), WAIT).toBe("1 of 1 left");

      // Toggle on B: A shows it done.
      await item(b, "Buy milk").locator('input[type="checkbox"]').check();
      await a.locator('#list li[data-completed="true"]', { hasText: "Buy milk" }).waitFor(WAIT);
      await expect.poll(() => a.textContent("#count"), WAIT).toBe("0 of 1 left");
      await expect.poll(async () => Number((await a.textContent("#stats"))?.match(/pulled (\d+)/)?.[1]), WAIT).toBeGreaterThanOrEqual(1);
      await expect.poll(async () => Number((await b.textContent("#stats"))?.match(/pushed (\d+)/)?.[1]), WAIT).toBeGreaterThanOrEqual(1);

      // B goes offline and writes: kept locally and counted as unsynced; back online it reaches A.
      await b.click("#toggle-online");
      await expect.poll(() => b.getAttribute("#status", "data-status"), WAIT).toBe("paused");
      await add(b, "Walk the dog");
      await item(b, "Walk the dog").waitFor(WAIT);
      await expect.poll(() => b.getAttribute("#pending", "data-count"), WAIT).toBe("1");
      await b.click("#toggle-online");
      await item(a, "Walk the dog").waitFor(WAIT);
      await expect.poll(() => b.getAttribute("#pending", "data-count"), WAIT).toBe("0");

      // Delete on A: gone from B.
      await item(a, "Buy milk").locator(".delete").click();
      await item(b, "Buy milk").waitFor({ state: "detached", ...WAIT });
      await expect.poll(() => b.textContent("#count"), WAIT).toBe("1 of 1 left");

      expect(sessions.flatMap((s) => s.log).filter((l) => l.startsWith("pageerror"))).toEqual([]);
    }, 20_000);
  },
);
