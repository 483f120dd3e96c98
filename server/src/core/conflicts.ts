// How the server settles a conflicting push (PROTOCOL §7): by the strategy
// configured for the collection. The strategies themselves live in
// common/src/conflicts.ts, shared with the client.
import {
  builtInResolvers,
  isConflictStrategyName,
  type ConflictResolver,
  type ConflictStrategyName,
} from "../../../common/src/conflicts.js";
import { parseDocument } from "../../../common/src/documents.js";
import type { JsonObject } from "../../../common/src/json.js";
import type { ChangeEvent } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";

/** "report" leaves the conflict to the client; anything else settles it here. */
export type ServerConflictStrategy = "report" | ConflictStrategyName | { name: string; resolve: ConflictResolver };

export interface ConflictPolicy {
  readonly default?: ServerConflictStrategy;
  readonly collections?: Readonly<Record<string, ServerConflictStrategy>>;
}

export function strategyFor(policy: ConflictPolicy, collection: string): ServerConflictStrategy {
  return policy.collections?.[collection] ?? policy.default ?? "report";
}

export function strategyName(strategy: ServerConflictStrategy): string {
  return typeof strategy === "string" ? strategy : strategy.name;
}

export function parseStrategy(name: string): ServerConflictStrategy {
  if (name === "report" || isConflictStrategyName(name)) return name;
  throw new Error(`unknown conflict strategy "${name}" (report, last-write-wins, server-wins, client-wins, merge)`);
}

export type Settlement =
  | { kind: "report" }
  | { kind: "keep-server" }
  | { kind: "write"; document: JsonObject | null };

const documentOf = (event: ChangeEvent | undefined): JsonObject | null => {
  if (!event || event.deleted) return null;
  // A stored state may predate the nesting limit; the strategies' walks are iterative.
  const parsed = parseDocument(event.document, { maxDepth: Infinity });
  return parsed.ok ? parsed.value : null;
};

/** Strategies that can use the base document, so states are kept by revision for them. */
export function usesBase(strategy: ServerConflictStrategy): boolean {
  return strategy === "merge" || typeof strategy === "object";
}

export async function settleConflict(
  strategy: ServerConflictStrategy,
  pushed: ChangeEvent,
  pushedDocument: JsonObject | null,
  current: ChangeEvent | undefined,
  base?: ChangeEvent,
): Promise<Settlement> {
  if (strategy === "report") return { kind: "report" };
  const resolve = typeof strategy === "string" ? builtInResolvers[strategy] : strategy.resolve;
  const zero = { wallTimeMs: 0n, logical: 0 };
  const resolution = await resolve({
    collection: pushed.collection,
    documentId: pushed.documentId,
    client: { document: pushedDocument, timestamp: pushed.timestamp ?? zero, clientId: pushed.clientId },
    server: { document: documentOf(current), timestamp: current?.timestamp ?? zero, clientId: current?.clientId ?? "" },
    ...(base ? { base: documentOf(base) } : {}),
  });
  switch (resolution.winner) {
    case "server":
      return { kind: "keep-server" };
    case "client":
      return { kind: "write", document: pushedDocument };
    case "merged":
      return { kind: "write", document: resolution.document };
  }
}
