// Property: whatever sequence of offline edits, reconnects and conflicting
// writes three clients make, once all are online and idle every replica is
// identical to the others and to the server, under every conflict strategy.
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ConflictStrategy } from "./engine/engine.js";
import { makeClient, snapshot, waitConverged, type TestClient } from "./test-support/harness.js";
import { startServer, type ServerProcess } from "./test-support/server-process.js";

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({
    args: ["--conflict-strategy", "srv_lww=last-write-wins,srv_sw=server-wins,srv_cw=client-wins,srv_merge=merge"],
  });
});
afterAll(() => server.stop());

type Op =
  | { kind: "insert" | "update"; client: number; doc: number; field: "a" | "b" | "c"; value: number }
  | { kind: "delete"; client: number; doc: number }
  | { kind: "offline" | "online"; client: number };

const client = fc.integer({ min: 0, max: 2 });
const doc = fc.integer({ min: 0, max: 3 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom("insert" as const, "update" as const), client, doc, field: fc.constantFrom("a" as const, "b" as const, "c" as const), value: fc.integer({ min: 0, max: 99 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), client, doc }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom("offline" as const, "online" as const), client }) },
);

// Collection -> the client's strategy; the srv_* collections are settled by the server.
const modes: ReadonlyArray<readonly [string, ConflictStrategy]> = [
  ["cli", "last-write-wins"],
  ["cli", "server-wins"],
  ["cli", "client-wins"],
  ["cli", "merge"],
  ["srv_lww", "last-write-wins"],
  ["srv_sw", "last-write-wins"],
  ["srv_cw", "last-write-wins"],
  ["srv_merge", "last-write-wins"],
];

let run = 0;

it("three clients converge to the server's state", async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...modes), fc.array(op, { minLength: 5, maxLength: 40 }), async ([collection, strategy], ops) => {
      run++;
      const clients: TestClient[] = [];
      try {
        for (const name of ["x", "y", "z"]) {
          clients.push(await makeClient(`${name}${run}`, { serverUrl: server.url, collections: [collection], conflictStrategy: strategy }));
        }
        const online = [false, false, false];
        for (const c of clients) await c.engine.start();
        online.fill(true);
        for (const o of ops) {
          const c = clients[o.client]!;
          const col = c.col(collection);
          switch (o.kind) {
            case "offline":
              if (online[o.client]) await c.engine.stop();
              online[o.client] = false;
              break;
            case "online":
              if (!online[o.client]) await c.engine.start();
              online[o.client] = true;
              break;
            case "delete":
              await col.delete(`r${run}-${o.doc}`);
              break;
            default: {
              const id = `r${run}-${o.doc}`;
              if (o.kind === "insert" && !(await col.get(id))) await col.insert({ _id: id, [o.field]: o.value });
              else await col.update(id, { [o.field]: o.value });
            }
          }
        }
        for (let i = 0; i < clients.length; i++) if (!online[i]) await clients[i]!.engine.start();
        const server_ = await waitConverged(server.url, clients, collection, 20_000);
        for (const c of clients) expect(await snapshot(c, collection)).toEqual(server_);
      } finally {
        for (const c of clients) {
          await c.engine.stop();
          await c.db.close();
        }
      }
    }),
    { numRuns: 60, endOnFailure: true },
  );
}, 120_000);
