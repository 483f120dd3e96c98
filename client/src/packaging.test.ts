// The browser entry (index.ts) must reach no Node module: walk its import
// graph (relative imports, followed) and check every package it names.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importGraph } from "../../test/import-graph.js";

const here = dirname(fileURLToPath(import.meta.url));

const NODE_ONLY = [/^node:/, /^(fs|http|http2|https|net|tls|path|os|child_process|crypto|stream|zlib)$/, /^@connectrpc\/connect-node/, /^classic-level/];

describe("packaging", () => {
  it("the browser entry imports nothing Node-only", () => {
    const { files, packages } = importGraph([resolve(here, "index.ts")]);
    expect([...files].some((f) => f.endsWith("transport/node.ts"))).toBe(false);
    const bad = [...packages].filter((p) => NODE_ONLY.some((re) => re.test(p)));
    expect(bad).toEqual([]);
    expect(packages).toContain("@connectrpc/connect-web");
    expect(packages).toContain("level");
    // `level` switches to IndexedDB in browsers through its "browser" field.
    const require = createRequire(import.meta.url);
    const pkg = JSON.parse(readFileSync(require.resolve("level/package.json"), "utf8")) as { browser?: string };
    expect(pkg.browser).toBe("browser.js");
  });

  it("the Node entry adds gRPC", () => {
    const { packages } = importGraph([resolve(here, "node.ts")]);
    expect(packages).toContain("@connectrpc/connect-node");
  });
});
