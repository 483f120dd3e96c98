// A local-first todo list in the browser on the Pocket Sync client: plain DOM,
// IndexedDB (createDatabase with storage "level"), the seed's sync engine
// options, live queries for rendering. Every write goes to IndexedDB first and
// shows at once; the engine pushes it when it can and the live Subscribe
// stream brings other devices' writes in. Bundled by ./serve.ts.
//
// The sync server URL comes from ?server=URL, else window.POCKET_SYNC_URL
// (which serve.ts injects), else http://127.0.0.1:8080.
import { createDatabase, createSyncEngine, type Doc, type SyncStats, type SyncStatus } from "../../client/src/index.js";

interface Todo {
  title: string;
  completed: boolean;
  createdAt: number;
}

declare global {
  interface Window {
    POCKET_SYNC_URL?: string;
  }
}

const params = new URLSearchParams(location.search);
const serverUrl = params.get("server") ?? window.POCKET_SYNC_URL ?? "http://127.0.0.1:8080";

const $ = <E extends HTMLElement>(id: string) => document.getElementById(id) as E;
const ui = {
  status: $("status"),
  toggle: $<HTMLButtonElement>("toggle-online"),
  form: $<HTMLFormElement>("add"),
  title: $<HTMLInputElement>("new-title"),
  list: $<HTMLUListElement>("list"),
  count: $("count"),
  pending: $("pending"),
  stats: $("stats"),
  device: $("device"),
  server: $("server"),
};

// ---- one device per tab ----
//
// Each tab is its own device with its own IndexedDB database. Two tabs must not
// open the same one: they would share a client id and client sequences while
// each keeps its own in-memory state. A Web Lock held for the page's lifetime
// marks a device as in use; a reload keeps its device (sessionStorage), a new
// tab takes a free one it has used before (localStorage) or makes a new one.

const randomId = () => Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, "0")).join("");

function tryLock(device: string): Promise<boolean> {
  if (!("locks" in navigator)) return Promise.resolve(true);
  return new Promise((resolve) => {
    void navigator.locks.request(`todo-web:${device}`, { ifAvailable: true }, (lock) => {
      resolve(lock !== null);
      return lock ? new Promise<never>(() => {}) : undefined; // held until the page goes away
    });
  });
}

async function claimDevice(): Promise<string> {
  const fixed = params.get("device");
  if (fixed) {
    if (!(await tryLock(fixed))) throw new Error(`device "${fixed}" is open in another tab`);
    return fixed;
  }
  const known: string[] = JSON.parse(localStorage.getItem("todo-web:devices") ?? "[]");
  const mine = sessionStorage.getItem("todo-web:device");
  const candidates = [...(mine ? [mine] : []), ...known.filter((d) => d !== mine)];
  let device: string | undefined;
  for (const d of candidates) if (await tryLock(d)) { device = d; break; }
  if (!device) {
    do device = randomId();
    while (!(await tryLock(device)));
    localStorage.setItem("todo-web:devices", JSON.stringify([...known, device]));
  }
  sessionStorage.setItem("todo-web:device", device);
  return device;
}

// ---- the app ----

const device = await claimDevice();
ui.device.textContent = device;
ui.server.textContent = serverUrl;

const db = await createDatabase({ name: `todo-web-${device}`, storage: "level" }); // IndexedDB
const todos = db.collection<Todo>("todos");

const sync = createSyncEngine(db, {
  serverUrl,
  authToken: "user-token", // the server runs without auth here; it ignores the token
  collections: ["todos"],
  direction: "both",
  useWebSocket: true, // the live Subscribe stream
  pullInterval: 30000,
  conflictStrategy: "last-write-wins",
});

function render(docs: Doc<Todo>[]): void {
  ui.list.replaceChildren(
    ...docs.map((todo) => {
      const li = document.createElement("li");
      li.dataset.id = todo._id;
      li.dataset.completed = String(todo.completed);
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = todo.completed;
      box.setAttribute("aria-label", `done: ${todo.title}`);
      box.addEventListener("change", () => void todos.update(todo._id, { completed: box.checked }));
      const title = document.createElement("span");
      title.className = "title";
      title.textContent = todo.title;
      const del = document.createElement("button");
      del.className = "delete";
      del.type = "button";
      del.title = "Delete";
      del.textContent = "×";
      del.addEventListener("click", () => void todos.delete(todo._id));
      li.append(box, title, del);
      return li;
    }),
  );
  const left = docs.filter((d) => !d.completed).length;
  ui.count.textContent = `${left} of ${docs.length} left`;
}

let paused = false;
let status: SyncStatus = "idle";
function showStatus(): void {
  const shown = paused ? "paused" : status;
  ui.status.dataset.status = shown;
  ui.status.textContent = paused ? "offline (paused)" : status;
  ui.toggle.textContent = paused ? "Go online" : "Go offline";
}

function showStats(s: SyncStats): void {
  const last = s.lastSyncAt === null ? "never synced" : `last sync ${new Date(s.lastSyncAt).toLocaleTimeString()}`;
  ui.stats.textContent = `pushed ${s.pushCount} · pulled ${s.pullCount} · conflicts ${s.conflictCount} · ${last}`;
}

// Local writes not yet acknowledged by the server.
let counting = Promise.resolve();
function showPending(): void {
  counting = counting.then(async () => {
    const n = await db.syncStore.pendingCount(["todos"]);
    ui.pending.textContent = `${n} unsynced`;
    ui.pending.dataset.count = String(n);
  });
}

todos.find({}, { sort: { field: "createdAt" } }).$.subscribe(render);
todos.changes().subscribe(showPending);
sync.getStatus().subscribe((s) => {
  status = s;
  showStatus();
  showPending();
});
sync.getStats().subscribe((s) => {
  showStats(s);
  showPending();
});
sync.errors$.subscribe((e) => console.warn(`sync ${e.kind} failed:`, e.error.message));

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  const title = ui.title.value.trim();
  if (!title) return;
  ui.title.value = "";
  void todos.insert({ title, completed: false, createdAt: Date.now() }); // local first: shows at once
});

// "Go offline" stops the engine: writes keep landing in IndexedDB and queue in
// the outbox; "Go online" starts it again and they are pushed.
ui.toggle.addEventListener("click", () => {
  ui.toggle.disabled = true;
  paused = !paused;
  showStatus();
  void (paused ? sync.stop() : sync.start()).finally(() => (ui.toggle.disabled = false));
});

await sync.start();
showStatus();
document.body.dataset.ready = "true";
