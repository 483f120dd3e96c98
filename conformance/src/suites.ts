// The named checks of every suite. A suite is a pair of files side by side in
// conformance/cases/: `<mode>-<suite>.yaml` (the cases, as data) and
// `<mode>-<suite>.ts` (the checks its cases name), so a case's `check:` is
// looked up in its own suite's file.
import { basename } from "node:path";
import type { CaseDef } from "./cases.js";
import type { ClientCheck } from "./client-check-helpers.js";
import type { ServerCheck } from "./server-check-helpers.js";
import { checks as clientConflictReport } from "../cases/client-conflict-report.js";
import { checks as clientConflictResolved } from "../cases/client-conflict-resolved.js";
import { checks as clientConvergence } from "../cases/client-convergence.js";
import { checks as clientEveryCollection } from "../cases/client-every-collection.js";
import { checks as clientFilters } from "../cases/client-filters.js";
import { checks as clientOffline } from "../cases/client-offline.js";
import { checks as clientPull } from "../cases/client-pull.js";
import { checks as clientPush } from "../cases/client-push.js";
import { checks as clientResume } from "../cases/client-resume.js";
import { checks as clientRetry } from "../cases/client-retry.js";
import { checks as clientSubscribe } from "../cases/client-subscribe.js";
import { checks as clientTombstones } from "../cases/client-tombstones.js";
import { checks as serverAuth } from "../cases/server-auth.js";
import { checks as serverBasic } from "../cases/server-basic.js";
import { checks as serverConcurrency } from "../cases/server-concurrency.js";
import { checks as serverConflict } from "../cases/server-conflict.js";
import { checks as serverEveryCollection } from "../cases/server-every-collection.js";
import { checks as serverFilterMoves } from "../cases/server-filter-moves.js";
import { checks as serverFilters } from "../cases/server-filters.js";
import { checks as serverHeartbeat } from "../cases/server-heartbeat.js";
import { checks as serverIdempotency } from "../cases/server-idempotency.js";
import { checks as serverPagination } from "../cases/server-pagination.js";
import { checks as serverProtocols } from "../cases/server-protocols.js";
import { checks as serverResume } from "../cases/server-resume.js";
import { checks as serverSubscribe } from "../cases/server-subscribe.js";
import { checks as serverTombstones } from "../cases/server-tombstones.js";
import { checks as serverValidation } from "../cases/server-validation.js";

/** Server suites by file name (without .yaml). */
export const SERVER_SUITES: Readonly<Record<string, Readonly<Record<string, ServerCheck>>>> = {
  "server-auth": serverAuth,
  "server-basic": serverBasic,
  "server-concurrency": serverConcurrency,
  "server-conflict": serverConflict,
  "server-every-collection": serverEveryCollection,
  "server-filter-moves": serverFilterMoves,
  "server-filters": serverFilters,
  "server-heartbeat": serverHeartbeat,
  "server-idempotency": serverIdempotency,
  "server-pagination": serverPagination,
  "server-protocols": serverProtocols,
  "server-resume": serverResume,
  "server-subscribe": serverSubscribe,
  "server-tombstones": serverTombstones,
  "server-validation": serverValidation,
};

/** Client suites by file name (without .yaml). */
export const CLIENT_SUITES: Readonly<Record<string, Readonly<Record<string, ClientCheck>>>> = {
  "client-conflict-report": clientConflictReport,
  "client-conflict-resolved": clientConflictResolved,
  "client-convergence": clientConvergence,
  "client-every-collection": clientEveryCollection,
  "client-filters": clientFilters,
  "client-offline": clientOffline,
  "client-pull": clientPull,
  "client-push": clientPush,
  "client-resume": clientResume,
  "client-retry": clientRetry,
  "client-subscribe": clientSubscribe,
  "client-tombstones": clientTombstones,
};

/** The suite file a case comes from, without .yaml: its checks' file. */
export function suiteFile(c: CaseDef): string {
  return basename(c.file, ".yaml");
}

function lookup<T>(suites: Readonly<Record<string, Readonly<Record<string, T>>>>, c: CaseDef): T {
  const file = suiteFile(c);
  const check = c.check === undefined ? undefined : suites[file]?.[c.check];
  if (!check) throw new Error(`${c.file}: ${c.id}: no check "${c.check ?? ""}" in conformance/cases/${file}.ts`);
  return check;
}

export function serverCheck(c: CaseDef): ServerCheck {
  return lookup(SERVER_SUITES, c);
}

export function clientCheck(c: CaseDef): ClientCheck {
  return lookup(CLIENT_SUITES, c);
}
