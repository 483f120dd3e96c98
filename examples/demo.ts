// `npm run demo`: starts the sync server on its embedded LevelDB store (./data)
// and two devices using the client with the seed's API: a live query that
// updates when the other device writes, then offline edits on both sides that
// converge by last-write-wins when they come back. The server keeps running
// afterwards so you can poke at it (Ctrl-C stops it).
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createDatabase, createSyncEngine, type Doc } from "../client/src/node.js";

const server = spawn(process.execPath, ["--import", "tsx", "server/src/serve/cli.ts", "--log-level", "warn", ...process.argv.slice(2)], {
  stdio: ["ignore", "pipe", "inherit"],
});
process.on("SIGINT", () => server.kill("SIGINT"));
server.on("exit", (code) => process.exit(code ?? 0));
const serverUrl = await new Promise<string>((resolve) => {
  server.stdout.on("data", (chunk: Buffer) => {
    process.stdout.write(chunk);
    const match = chunk.toString().match(/listening on (http:\/\/\S+)/);
    if (match) resolve(match[1]!);
  });
});

type Todo = { title: string; completed: boolean };

async function device(name: string) {
  const db = await createDatabase({ name: `demo-${name}`, storage: "memory" });
  const todos = db.collection<Todo>("todos");
  const sync = createSyncEngine(db, {
    serverUrl,
    authToken: "user-token",
    collections: ["todos"],
    direction: "both",
    useWebSocket: true, // the live Subscribe stream
    conflictStrategy: "last-write-wins",
  });
  sync.getStatus().subscribe((status) => {
    if (status === "error" || status === "offline") console.log(`  [${name}] status: ${status}`);
  });
  return { name, db, todos, sync };
}

const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 500 && !(await check()); i++) await new Promise((r) => setTimeout(r, 20));
};
const line = (title: string) => console.log(`\n${title}`);

const phone = await device("phone");
const laptop = await device("laptop");
await phone.sync.start();
await laptop.sync.start();

line("1. The laptop watches open todos with a live query:");
let latest: Doc<Todo>[] = [];
laptop.todos.find({ completed: false }).$.subscribe((docs) => {
  latest = docs;
  console.log(`  [laptop] open todos: ${docs.map((d) => `"${d.title}"`).join(", ") || "(none)"}`);
});

line("2. The phone adds a todo; it returns at once and reaches the laptop live:");
const id = `todo-${randomUUID().slice(0, 8)}`;
await phone.todos.insert({ _id: id, title: "Buy milk", completed: false });
await until(async () => latest.some((d) => d._id === id));

line("3. Both go offline and edit the same todo; the laptop edits last:");
await phone.sync.stop();
await laptop.sync.stop();
await phone.todos.update(id, { title: "Buy oat milk" });
await new Promise((r) => setTimeout(r, 5));
await laptop.todos.update(id, { title: "Buy milk and eggs" });

line("4. Back online, they converge on the later write (last-write-wins):");
await phone.sync.start();
await laptop.sync.start();
await phone.sync.forceSync();
await laptop.sync.forceSync();
await until(async () => (await phone.todos.get(id))?.title === (await laptop.todos.get(id))?.title);
console.log(`  phone: "${(await phone.todos.get(id))?.title}", laptop: "${(await laptop.todos.get(id))?.title}"`);

line("5. The phone completes it; it leaves the laptop's open list:");
await phone.todos.update(id, { completed: true });
await until(async () => !latest.some((d) => d._id === id));
laptop.sync.getStats().subscribe((s) => console.log(`  [laptop] stats: pushed ${s.pushCount}, pulled ${s.pullCount}, conflicts ${s.conflictCount}`)).unsubscribe();

for (const d of [phone, laptop]) {
  await d.sync.stop();
  d.sync.destroy();
  await d.db.close();
}
console.log(`\nDemo done. The server is still running at ${serverUrl} on LevelDB in ./data. Try:`);
console.log(`  npx buf curl --schema . --protocol connect --data '{"collections":["todos"]}' ${serverUrl}/pocket.sync.v1.SyncService/Pull`);
console.log("Ctrl-C stops it.");
