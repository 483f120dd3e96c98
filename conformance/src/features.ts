// What a server under test declares it supports (server-features.yaml).
// Cases list the features they need in `requires`; a case whose features the
// server does not declare is skipped with the reason. Everything PROTOCOL.md
// says a server MUST do is required by no feature and always runs.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { PROTOCOLS, parseProtocol, type Protocol } from "./wire.js";

export const STRATEGIES = ["report", "last-write-wins", "server-wins", "client-wins", "merge"] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface ServerFeatures {
  /** Protocols served (Connect JSON and binary are required by §2.1). */
  protocols: Protocol[];
  /** HTTP/2 cleartext (h2c) on the same port. */
  http2: boolean;
  /** Pull as an HTTP GET with the Connect protocol (§2.2). */
  connectGet: boolean;
  /**
   * The suite invents collection names (such as `c1a2b3_todos`) to isolate
   * cases; a server that only accepts fixed collections sets this false and
   * lists them in `collections`.
   */
  openCollections: boolean;
  /** Fixed collections to use when openCollections is false (default strategy). */
  collections: string[];
  /** Strategy -> a collection configured with it. `report` defaults to invented collections. */
  conflictStrategies: Partial<Record<Strategy, string>>;
  /**
   * The merge collection merges three-way (§7): the server keeps the state a
   * client based its change on (for at least as long as a case runs), and the
   * merge cases hold it to the three-way result. Without it they accept the
   * two-way result too.
   */
  mergeThreeWay: boolean;
  /** Tombstones are purged after retentionMs, checked every purgeIntervalMs. */
  tombstonePurge?: { retentionMs: number; purgeIntervalMs: number };
  /** The heartbeat interval when the request asks for 0, if short enough to test. */
  heartbeatDefaultMs?: number;
  /** Auth: whether tokens are checked, and what the second token may not do. */
  auth: {
    required: boolean;
    /** Collections the --token2 principal may not read (pull/subscribe refused). */
    token2CannotRead: string[];
    /** Collections the --token2 principal may not write (changes rejected). */
    token2CannotWrite: string[];
    /** A collection the --token2 principal may read and write (shared by cases). */
    token2Allowed?: string;
  };
  /** Refuses timestamps more than 24 hours ahead (§10.3, a SHOULD). */
  futureTimestampRefusal: boolean;
  /** The largest request the server accepts, for the too-large case. */
  maxRequestBytes?: number;
  /**
   * Filters (§4.10): top-level fields the server indexes in every collection,
   * so a filter on them is answered; `everyField` when it indexes every
   * top-level field (then no filter is refused as not indexed, §4.12).
   */
  filters?: { fields: string[]; everyField: boolean };
  /** Where these declarations came from, for skip reasons ("features file x.yaml"). */
  source?: string;
}

export const DEFAULT_FEATURES: ServerFeatures = {
  protocols: ["connect-json", "connect-proto"],
  http2: false,
  connectGet: false,
  openCollections: true,
  collections: [],
  conflictStrategies: {},
  mergeThreeWay: false,
  auth: { required: true, token2CannotRead: [], token2CannotWrite: [] },
  futureTimestampRefusal: false,
};

function num(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw new Error(`${where}: expected a number`);
  return value;
}

function list(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw new Error(`${where}: expected a list of strings`);
  return value as string[];
}

export function parseFeatures(text: string, where = "features"): ServerFeatures {
  const raw = (parse(text) ?? {}) as Record<string, unknown>;
  const known = new Set([
    "protocols", "http2", "connectGet", "openCollections", "collections", "conflictStrategies", "mergeThreeWay",
    "tombstonePurge", "heartbeatDefaultMs", "auth", "futureTimestampRefusal", "maxRequestBytes",
    "filters",
  ]);
  for (const key of Object.keys(raw)) if (!known.has(key)) throw new Error(`${where}: unknown key ${key}`);
  const f: ServerFeatures = structuredClone(DEFAULT_FEATURES);
  if (raw.protocols !== undefined) f.protocols = list(raw.protocols, `${where}.protocols`).map(parseProtocol);
  if (raw.http2 !== undefined) f.http2 = raw.http2 === true;
  if (raw.connectGet !== undefined) f.connectGet = raw.connectGet === true;
  if (raw.openCollections !== undefined) f.openCollections = raw.openCollections === true;
  f.collections = list(raw.collections, `${where}.collections`);
  if (!f.openCollections && f.collections.length === 0) throw new Error(`${where}: openCollections is false, so list collections`);
  const strategies = (raw.conflictStrategies ?? {}) as Record<string, unknown>;
  for (const [strategy, collection] of Object.entries(strategies)) {
    if (!(STRATEGIES as readonly string[]).includes(strategy)) throw new Error(`${where}.conflictStrategies: unknown strategy ${strategy}`);
    if (typeof collection !== "string") throw new Error(`${where}.conflictStrategies.${strategy}: expected a collection name`);
    f.conflictStrategies[strategy as Strategy] = collection;
  }
  if (raw.mergeThreeWay !== undefined) f.mergeThreeWay = raw.mergeThreeWay === true;
  if (raw.tombstonePurge !== undefined) {
    const t = raw.tombstonePurge as Record<string, unknown>;
    f.tombstonePurge = {
      retentionMs: num(t.retentionMs, `${where}.tombstonePurge.retentionMs`),
      purgeIntervalMs: num(t.purgeIntervalMs, `${where}.tombstonePurge.purgeIntervalMs`),
    };
  }
  if (raw.heartbeatDefaultMs !== undefined) f.heartbeatDefaultMs = num(raw.heartbeatDefaultMs, `${where}.heartbeatDefaultMs`);
  if (raw.auth !== undefined) {
    const a = raw.auth as Record<string, unknown>;
    f.auth = {
      required: a.required !== false,
      token2CannotRead: list(a.token2CannotRead, `${where}.auth.token2CannotRead`),
      token2CannotWrite: list(a.token2CannotWrite, `${where}.auth.token2CannotWrite`),
      ...(typeof a.token2Allowed === "string" ? { token2Allowed: a.token2Allowed } : {}),
    };
  }
  if (raw.futureTimestampRefusal !== undefined) f.futureTimestampRefusal = raw.futureTimestampRefusal === true;
  if (raw.maxRequestBytes !== undefined) f.maxRequestBytes = num(raw.maxRequestBytes, `${where}.maxRequestBytes`);
  if (raw.filters !== undefined) {
    const x = (raw.filters ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(x)) if (key !== "fields" && key !== "everyField") throw new Error(`${where}.filters: unknown key ${key}`);
    const fields = list(x.fields, `${where}.filters.fields`);
    if (fields.length === 0) throw new Error(`${where}.filters.fields: list the top-level fields the server indexes in every collection`);
    f.filters = { fields, everyField: x.everyField === true };
  }
  return f;
}

const DEFAULTS_SOURCE = "the default features (no --config given; conformance/reference-server.features.yaml declares every feature)";

export function loadFeatures(file: string | undefined): ServerFeatures {
  if (!file) return { ...structuredClone(DEFAULT_FEATURES), source: DEFAULTS_SOURCE };
  return { ...parseFeatures(readFileSync(file, "utf8"), file), source: `the features file ${file}` };
}

export interface Tokens {
  token?: string | undefined;
  token2?: string | undefined;
}

/**
 * Why a case requiring `feature` cannot run, or undefined when it can.
 * Feature names: `protocol:<p>`, `http2`, `connect-get`, `strategy:<s>`,
 * `merge-three-way`, `tombstone-purge`, `heartbeat-default`, `auth`, `token2`, `token2-read`,
 * `token2-write`, `future-timestamp-refusal`, `max-request-bytes`, `filters` (at least one indexed
 * field; `filters:2`, at least two), `filters-unindexed` (a field the server does not index).
 */
export function missingFeature(f: ServerFeatures, tokens: Tokens, feature: string): string | undefined {
  const [name, arg] = feature.split(":") as [string, string | undefined];
  // What the run was told about the server, not what the server does: say where to declare it.
  const from = f.source ?? "the server's features (--config)";
  const undeclared = (what: string) => `${what} is not declared in ${from}`;
  switch (name) {
    case "protocol":
      return f.protocols.includes(parseProtocol(arg ?? "")) ? undefined : undeclared(`protocol ${arg} (protocols: [${f.protocols.join(", ")}])`);
    case "http2":
      return f.http2 ? undefined : undeclared("http2: true");
    case "connect-get":
      return f.connectGet ? undefined : undeclared("connectGet: true");
    case "strategy":
      if (arg === "report" && f.openCollections) return undefined;
      return f.conflictStrategies[arg as Strategy] ? undefined : undeclared(`a collection with conflict strategy ${arg} (conflictStrategies)`);
    case "merge-three-way":
      if (!f.conflictStrategies.merge) return undeclared("a collection with conflict strategy merge (conflictStrategies)");
      return f.mergeThreeWay ? undefined : undeclared("mergeThreeWay: true");
    case "tombstone-purge":
      return f.tombstonePurge ? undefined : undeclared("tombstonePurge (a short retention for tests)");
    case "heartbeat-default":
      return f.heartbeatDefaultMs !== undefined ? undefined : undeclared("heartbeatDefaultMs");
    case "auth":
      if (!f.auth.required) return `${from} declares auth.required: false`;
      return tokens.token ? undefined : "no --token given";
    case "token2":
      if (!tokens.token2) return "no --token2 given";
      return f.auth.token2Allowed ? undefined : undeclared("auth.token2Allowed");
    case "token2-read":
      if (!tokens.token2) return "no --token2 given";
      if (!f.auth.token2Allowed) return undeclared("auth.token2Allowed");
      return f.auth.token2CannotRead.length ? undefined : undeclared("auth.token2CannotRead");
    case "token2-write":
      if (!tokens.token2) return "no --token2 given";
      if (!f.auth.token2Allowed) return undeclared("auth.token2Allowed");
      return f.auth.token2CannotWrite.length ? undefined : undeclared("auth.token2CannotWrite");
    case "future-timestamp-refusal":
      return f.futureTimestampRefusal ? undefined : undeclared("futureTimestampRefusal (a SHOULD, §10.3)");
    case "max-request-bytes":
      return f.maxRequestBytes !== undefined ? undefined : undeclared("maxRequestBytes");
    case "filters": {
      const needed = Number(arg ?? "1");
      if (!f.filters) return undeclared("filters (the fields indexed in every collection, filters.fields)");
      return f.filters.fields.length >= needed ? undefined : undeclared(`${needed} indexed fields (filters.fields: [${f.filters.fields.join(", ")}])`);
    }
    case "filters-unindexed":
      if (!f.filters) return undeclared("filters (the fields indexed in every collection, filters.fields)");
      return f.filters.everyField ? `${from} declares filters.everyField: true (every top-level field is indexed, so no filter is refused as not indexed)` : undefined;
    default:
      throw new Error(`unknown feature ${feature}`);
  }
}

export const ALL_PROTOCOLS = PROTOCOLS;
