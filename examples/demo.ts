// `npm run demo`: starts the sync server on its embedded LevelDB store (./data)
// and shows two devices syncing through it over the wire protocol: a live
// subscription, an edit, a conflict, a delete. The server keeps running
// afterwards so you can poke at it (Ctrl-C stops it).
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { ChangeEventSchema, Operation, SyncService, type ChangeEvent } from "../gen/ts/pocket/sync/v1/sync_pb.js";

const server = spawn(process.execPath, ["--import", "tsx", "server/src/serve/cli.ts", "--log-level", "warn", ...process.argv.slice(2)], {
  stdio: ["ignore", "pipe", "inherit"],
});
process.on("SIGINT", () => server.kill("SIGINT"));
server.on("exit", (code) => process.exit(code ?? 0));

const url = await new Promise<string>((resolve) => {
  server.stdout.on("data", (chunk: Buffer) => {
    process.stdout.write(chunk);
    const match = chunk.toString().match(/listening on (http:\/\/\S+)/);
    if (match) resolve(match[1]!);
  });
});

const api = createClient(SyncService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
let clock = 0;
function change(device: string, sequence: number, documentId: string, document: object | null, baseRevision = "") {
  return create(ChangeEventSchema, {
    operation: document === null ? Operation.DELETE : baseRevision ? Operation.UPDATE : Operation.INSERT,
    collection: "todos",
    documentId,
    document: document === null ? "" : JSON.stringify(document),
    baseRevision,
    clientSequence: BigInt(sequence),
    timestamp: { wallTimeMs: BigInt(Date.now()), logical: clock++ },
  });
}
const show = (who: string, c: ChangeEvent) =>
  console.log(`  ${who} <- #${c.serverSequence} ${c.documentId} ${c.deleted ? "(deleted)" : c.document} rev ${c.revision}`);

const alice = `alice-phone-${randomUUID().slice(0, 8)}`;
const bob = `bob-laptop-${randomUUID().slice(0, 8)}`;
const todo = `todo-${randomUUID().slice(0, 8)}`;

console.log(`\n1. ${alice} subscribes to "todos" (catch-up first, then live):`);
const stop = new AbortController();
let live = 0;
const following = (async () => {
  try {
    for await (const message of api.subscribe({ collections: ["todos"], clientId: alice }, { signal: stop.signal })) {
      if (message.event.case === "changes") for (const c of message.event.value.changes) (live++, show(alice, c));
    }
  } catch {
    // aborted at the end of the demo
  }
})();
await new Promise((r) => setTimeout(r, 300));
const seen = live;
const waitForLive = async (n: number) => {
  while (live < seen + n) await new Promise((r) => setTimeout(r, 20));
};

console.log(`\n2. ${bob} pushes a new todo; ${alice} sees it live:`);
const created = await api.push({ clientId: bob, changes: [change(bob, 1, todo, { title: "Buy milk", done: false })] });
const revision = created.results[0]?.outcome.case === "accepted" ? created.results[0].outcome.value.revision : "";
console.log(`  ${bob}: accepted as revision ${revision}`);
await waitForLive(1);

console.log(`\n3. Both edit revision ${revision} offline; ${alice} pushes first, ${bob} gets a conflict:`);
const first = await api.push({ clientId: alice, changes: [change(alice, 1, todo, { title: "Buy oat milk", done: false }, revision)] });
console.log(`  ${alice}: ${first.results[0]?.outcome.case}`);
const second = await api.push({ clientId: bob, changes: [change(bob, 2, todo, { title: "Buy milk", done: true }, revision)] });
const outcome = second.results[0]?.outcome;
console.log(`  ${bob}: ${outcome?.case}; the server has ${outcome?.case === "conflict" ? outcome.value.current?.document : "?"}`);
await waitForLive(2);

console.log(`\n4. ${bob} merges (keeps the new title, marks it done) and re-pushes on the server's revision:`);
const current = outcome?.case === "conflict" ? outcome.value.current! : undefined;
const merged = { ...JSON.parse(current?.document ?? "{}"), done: true };
const resolved = await api.push({ clientId: bob, changes: [change(bob, 3, todo, merged, current?.revision)] });
console.log(`  ${bob}: ${resolved.results[0]?.outcome.case}`);
await waitForLive(3);

console.log(`\n5. ${bob} retries the same push (a lost response): applied once, same answer:`);
const retried = await api.push({ clientId: bob, changes: [change(bob, 3, todo, merged, current?.revision)] });
const again = retried.results[0]?.outcome;
if (again?.case === "accepted") {
  console.log(`  ${bob}: accepted again as revision ${again.value.revision}, server sequence ${again.value.serverSequence}: nothing new was written`);
}

stop.abort();
await following;
console.log(`\nDemo done. The server is still running at ${url} on LevelDB in ./data. Try:`);
console.log(`  npx buf curl --schema . --protocol connect --data '{"collections":["todos"]}' ${url}/pocket.sync.v1.SyncService/Pull`);
console.log("Ctrl-C stops it.");
