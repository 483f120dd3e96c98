#!/usr/bin/env bash
# The npm packages as a user gets them. Builds the workspaces, packs each
# (npm pack), installs the tarballs into an empty project in a temporary
# directory, and there: checks nothing pulled in tsx (the bins run built
# JavaScript), starts the pocket-sync-server bin, judges it with the
# pocket-conformance bin (server mode, the shipped tokens and features files;
# client mode, which starts the installed server itself, against the Go example
# client), runs the README's client snippet in Node and type-checks it against
# the shipped .d.ts, and bundles the client's browser entry with esbuild.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
version_of() { node -p "require('$ROOT/node_modules/$1/package.json').version"; }

echo "--- build and pack the workspaces"
npm run build >/dev/null
mkdir "$WORK/tarballs"
npm pack --workspaces --pack-destination "$WORK/tarballs" >/dev/null
ls "$WORK/tarballs"

echo "--- install the tarballs into an empty project"
mkdir "$WORK/app" && cd "$WORK/app"
npm init -y >/dev/null && npm pkg set type=module
npm install --no-audit --no-fund --loglevel=error "$WORK"/tarballs/*.tgz \
  "esbuild@$(version_of esbuild)" "typescript@$(version_of typescript)" "@types/node@$(version_of @types/node)"
if [ -e node_modules/tsx ]; then
  echo "tsx was installed: a package needs it at runtime" >&2
  npm ls tsx >&2
  exit 1
fi

# Starts the installed bin with the given flags; sets URL once it listens.
start_server() {
  local log="server-$((${#PIDS[@]} + 1)).log"
  # The bin itself (not npx, which would leave it running when killed).
  node_modules/.bin/pocket-sync-server --port 0 --log-level warn "$@" > "$log" 2>&1 &
  PIDS+=("$!")
  URL=""
  for _ in $(seq 1 300); do
    URL="$(grep -oE 'listening on http://[^ ]+' "$log" | head -1 | cut -d' ' -f3 || true)"
    [ -n "$URL" ] && return 0
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
  done
  echo "pocket-sync-server did not start" >&2; cat "$log"; exit 1
}

echo "--- the pocket-sync-server bin, set up as the conformance files describe"
CONFORMANCE=node_modules/@pocket-sync/conformance
start_server --storage memory --token-file "$CONFORMANCE/reference-server.tokens" \
  --conflict-strategy "report,lww=last-write-wins,serverwins=server-wins,clientwins=client-wins,merged=merge" \
  --tombstone-retention-ms 300 --purge-interval-ms 100 --heartbeat-ms 1000 --index '*.list,*.tag'
echo "listening on $URL"

echo "--- the pocket-conformance bin, server mode, over gRPC"
# Each run must judge cases and pass them all: "0 passed" is a package that lost its cases.
judged() {
  local last
  last="$(tail -1)"
  echo "$last"
  [[ "$last" =~ ^[1-9][0-9]*\ passed,\ 0\ failed$ ]]
}
npx pocket-conformance server --url "$URL" --token conformance-token --token2 conformance-token2 \
  --config "$CONFORMANCE/reference-server.features.yaml" --protocol grpc | judged

echo "--- the pocket-conformance bin, client mode (it starts the installed server), against the Go example client"
(cd "$ROOT" && go build -o "$WORK/go-client" ./examples/go-client)
npx pocket-conformance client --cases 'push*' -- "$WORK/go-client" | judged

echo "--- the README's client snippet, in Node, against the server as npm start runs it (LevelDB, no auth)"
start_server --data-dir ./server-data
node --input-type=module -e '
  import { readFileSync, writeFileSync } from "node:fs";
  const readme = readFileSync(process.argv[1], "utf8");
  const snippet = readme.slice(readme.indexOf("## The client")).match(/```ts\n([\s\S]*?)```/)[1];
  writeFileSync("client.ts", snippet.replaceAll("http://127.0.0.1:8080", process.argv[2]));
  writeFileSync("client.mjs", snippet.replaceAll("http://127.0.0.1:8080", process.argv[2]));
' "$ROOT/README.md" "$URL"
timeout 60 node client.mjs > client.log 2>&1 || { cat client.log; echo "the README's client snippet failed" >&2; exit 1; }
cat > check.mjs <<'JS'
// Another device: the todo the snippet inserted is on the server.
import { createDatabase, createSyncEngine } from "@pocket-sync/client/node";
const db = await createDatabase({ name: "check", storage: "memory" });
const sync = createSyncEngine(db, { serverUrl: process.argv[2], authToken: "user-token", collections: ["todos"], direction: "pull", useWebSocket: false });
await sync.start();
await sync.forceSync();
const todo = await db.collection("todos").get("1");
await sync.stop();
sync.destroy();
await db.close();
if (todo?.title !== "New todo") throw new Error(`the snippet's todo is not on the server: ${JSON.stringify(todo)}`);
console.log(`another device pulled "${todo.title}"`);
JS
timeout 60 node check.mjs "$URL"

echo "--- the snippet type-checks against the shipped declarations"
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022", "strict": true, "noEmit": true, "skipLibCheck": false, "types": ["node"], "lib": ["es2022", "dom"] }, "files": ["client.ts"] }
JSON
npx tsc -p tsconfig.json
echo "types check"

echo "--- the client's browser entry bundles with esbuild (no Node module in it)"
cat > browser.mjs <<'JS'
import { createDatabase, createSyncEngine } from "@pocket-sync/client";
import { PushRequestSchema } from "@pocket-sync/protocol/pocket/sync/v1/sync_pb.js";
console.log(createDatabase, createSyncEngine, PushRequestSchema);
JS
npx esbuild browser.mjs --bundle --platform=browser --format=esm --outfile=bundle.js --metafile=meta.json --log-level=warning
node -e '
  const inputs = Object.keys(require("./meta.json").inputs);
  const nodeOnly = inputs.filter((f) => /classic-level|connect-node|^node:/.test(f));
  if (nodeOnly.length) { console.error("Node-only modules in the browser bundle:", nodeOnly); process.exit(1); }
  if (!inputs.some((f) => f.includes("browser-level"))) { console.error("level did not switch to browser-level"); process.exit(1); }
  console.log(`browser bundle: ${inputs.length} modules, ${require("fs").statSync("bundle.js").size} bytes`);
'
echo "the packed packages work in an empty project"
