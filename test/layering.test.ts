// The dependency rules of ARCHITECTURE.md, checked on the import graph (type-only
// imports are erased at run time and do not count).
import { readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importGraph } from "./import-graph.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") && !path.endsWith(".test.ts") ? [path] : [];
  });
}

/** Every module reachable at run time from `dir`'s sources (test helpers aside). */
function runtimeGraph(dir: string): { packages: Set<string>; files: Set<string> } {
  const entries = sources(join(root, dir)).filter((f) => !f.includes("test-support") && !f.endsWith("testing.ts"));
  const { files, packages } = importGraph(entries);
  return { packages, files: new Set([...files].map((f) => relative(root, f))) };
}

describe("layering", () => {
  it("the server core knows no transport and no storage engine", () => {
    const { packages, files } = runtimeGraph("server/src/core");
    expect([...packages].filter((p) => /connect|fastify|level|pg$|^http/.test(p))).toEqual([]);
    expect([...files].filter((f) => f.startsWith("server/src/serve") || f.startsWith("server/src/storage/level") || f.startsWith("server/src/storage/postgres"))).toEqual([]);
  });

  it("the client never imports the server", () => {
    const { files } = runtimeGraph("client/src");
    expect([...files].filter((f) => f.startsWith("server/"))).toEqual([]);
  });

  it("the conformance suite speaks only the wire: generated code and Connect, no server, client or common internals", () => {
    const { files } = runtimeGraph("conformance/src");
    expect([...files].filter((f) => !f.startsWith("conformance/") && !f.startsWith("gen/ts/"))).toEqual([]);
  });
});
