// The engine-facing side of the database (../store.ts): reads run at once,
// writes one at a time after every earlier write.
import type { SyncStore } from "../store.js";
import { readCheckpoint } from "./checkpoint.js";
import type { DbCore } from "./core.js";
import { acknowledgeAll, adopt, rebase, reject } from "./push-answers.js";
import { applyRemote, finishResync } from "./remote.js";

export function createSyncStore(core: DbCore): SyncStore {
  return {
    clientId: async () => core.clientId,
    outboxChanged: core.outbox.changed(),
    pendingChanges: (collections, limit) => core.outbox.pending(core.level, collections, limit),
    pendingCount: async (collections) => (await core.outbox.pending(core.level, collections, Number.MAX_SAFE_INTEGER)).length,
    acknowledge: (change, accepted) => core.serial(() => acknowledgeAll(core, [{ change, accepted }])),
    acknowledgeAll: (acks) => core.serial(() => acknowledgeAll(core, acks)),
    adoptServerState: (change, current) => core.serial(() => adopt(core, change, current)),
    rebase: (change, current, document) => core.serial(() => rebase(core, change, current, document)),
    reject: (change) => core.serial(() => reject(core, change)),
    applyRemoteChanges: (changes, checkpoint, options) => core.serial(() => applyRemote(core, changes, checkpoint, options ?? {})),
    finishResync: (collections, seen, checkpoint) => core.serial(() => finishResync(core, collections, seen, checkpoint)),
    getCheckpoint: () => readCheckpoint(core.level),
  };
}
