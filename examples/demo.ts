// `npm run demo`: starts the sync server on its embedded LevelDB store and two
// devices using the client with the seed's API: a live query that updates when
// the other device writes, then offline edits on both sides that converge by
// last-write-wins when they come back. The store is a fresh temporary directory
// (removed afterwards) unless --data-dir names one; the demo stops the server
// and exits when done, unless --keep-serving asks it to keep the server running
// to poke at (Ctrl-C stops it). Other arguments go to the server.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDatabase, createSyncEngine, type Doc } from "../client/src/node.js";

const USAGE = `Usage: npm run demo -- [--keep-serving] [--data-dir DIR] [server options]

  --keep-serving   keep the server running after the demo (Ctrl-C stops it)
                   (env POCKET_DEMO_KEEP_SERVING=1)
  --data-dir DIR   keep the LevelDB store in DIR (default: a fresh temporary
                   directory, removed when the demo exits)
  other options go to the server: npm start -- --help lists them`;

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  console.log(USAGE);
  process.exit(0);
}
const keepServing = take("--keep-serving") || process.env.POCKET_DEMO_KEEP_SERVING === "1";
const chosenDir = args.some((a) => a === "--data-dir" || a.startsWith("--data-dir="));
const dataDir = chosenDir ? undefined : mkdtempSync(join(tmpdir(), "pocket-demo-"));
// Port 0 unless told: a demo that exits must not collide with a server already on 8080.
const portArgs = args.some((a) => a === "--port" || a.startsWith("--port=")) ? [] : ["--port", "0"];

/** Removes a boolean flag from the arguments; whether it was there. */
function take(flag: string): boolean {
  const at = args.indexOf(flag);
  if (at >= 0) args.splice(at, 1);
  return at >= 0;
}

const server = spawn(
  process.execPath,
  ["--import", "tsx", "server/src/serve/cli.ts", "--log-level", "warn", ...portArgs, ...(dataDir ? ["--data-dir", dataDir] : []), ...args],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const removeTempDir = () => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
};
let finishing = false;
process.on("SIGINT", () => server.kill("SIGINT"));
// However the demo ends (a failed step included), the server does not outlive it.
process.on("exit", () => {
  server.kill("SIGKILL");
  removeTempDir();
});
server.on("exit", (code) => {
  removeTempDir();
  // The server stopping before the demo finished is a failure, whatever its status.
  process.exit(finishing || keepServing ? (code ?? 0) : code || 1);
});
const serverUrl = await new Promise<string>((resolve) => {
  let seen = "";
  server.stdout.on("data", (chunk: Buffer) => {
    process.stdout.write(chunk);
    seen += chunk.toString();
    const match = seen.match(/listening on (http:\/\/\S+)/);
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

/** Waits for a step to happen; a demo that silently moves on would show nothing. */
const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the demo step did not happen within 10 s");
};
const line = (title: string) => console.log(`\n${title}`);

const phone = await device("phone");
const laptop = await device("laptop");
await phone.sync.start();
await laptop.sync.start();

line("1. The laptop watches open todos with a live query:");
let latest: Doc<Todo>[] = [];
let printed: string | undefined;
let first!: () => void;
const firstResult = new Promise<void>((resolve) => (first = resolve));
laptop.todos.find({ completed: false }).$.subscribe((docs) => {
  latest = docs;
  // A live query may emit the same list again (a local edit, then the same
  // document back from the server): say only what changed.
  const shown = docs.map((d) => `"${d.title}"`).join(", ") || "(none)";
  if (shown !== printed) console.log(`  [laptop] open todos: ${shown}`);
  printed = shown;
  first();
});
await firstResult;

line("2. The phone adds a todo; it returns at once and reaches the laptop live:");
const id = `todo-${randomUUID().slice(0, 8)}`;
await phone.todos.insert({ _id: id, title: "Buy milk", completed: false });
await until(async () => latest.some((d) => d._id === id));

line("3. Both go offline and edit the same todo; the laptop edits last:");
await phone.sync.stop();
await laptop.sync.stop();
await phone.todos.update(id, { title: "Buy oat milk" });
console.log(`  [phone] edits it to "Buy oat milk"`);
await new Promise((r) => setTimeout(r, 5));
await laptop.todos.update(id, { title: "Buy milk and eggs" });
await until(async () => latest.some((d) => d.title === "Buy milk and eggs"));

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
if (keepServing) {
  console.log(`\nDemo done. The server is still running at ${serverUrl} on LevelDB in ${dataDir ?? "the --data-dir you gave"}. Try:`);
  console.log(`  npx buf curl --schema . --protocol connect --data '{"collections":["todos"]}' ${serverUrl}/pocket.sync.v1.SyncService/Pull`);
  console.log("Ctrl-C stops it.");
} else {
  console.log("\nDemo done; the server stops. `npm run demo -- --keep-serving` keeps it running to try it yourself.");
  finishing = true;
  server.kill("SIGTERM");
}
