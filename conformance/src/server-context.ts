// What a server-mode case gets: clients for the server under test (with either
// token, any protocol), names unique to the case, and helpers.
import { randomBytes } from "node:crypto";
import type { Checkpoint, ChangeEvent } from "../../gen/ts/pocket/sync/v1/sync_pb.js";
import { missingFeature, type ServerFeatures, type Strategy, type Tokens } from "./features.js";
import { Skip, Wire, pullAll, type HttpVersion, type Protocol, type SyncClient } from "./wire.js";

/** Which credentials a call carries; `raw` is the valid token without the `Bearer` scheme. */
export type TokenChoice = "token" | "token2" | "none" | "unknown" | "raw" | { authorization: string };

export interface ServerTarget {
  readonly url: string;
  readonly protocol: Protocol;
  readonly httpVersion: HttpVersion;
  readonly tokens: Tokens;
  readonly features: ServerFeatures;
}

export class ServerContext {
  readonly ns: string;
  private sequence = 0n;
  private readonly sharedClients = new Map<string, SyncClient>();

  constructor(
    readonly target: ServerTarget,
    readonly wire: Wire,
    readonly signal: AbortSignal,
    caseIndex: number,
  ) {
    // Letters first: collection names must start with a letter.
    this.ns = `c${randomBytes(3).toString("hex")}${caseIndex}`;
  }

  get features(): ServerFeatures {
    return this.target.features;
  }

  /** A client of the server under test. */
  client(options: { token?: TokenChoice; protocol?: Protocol; httpVersion?: HttpVersion; useHttpGet?: boolean; compression?: boolean } = {}): SyncClient {
    const token = options.token ?? "token";
    const protocol = options.protocol ?? this.target.protocol;
    const httpVersion = options.httpVersion ?? (protocol === "grpc" ? "2" : this.target.httpVersion);
    const compression = options.compression ?? true;
    const key = JSON.stringify([token, protocol, httpVersion, options.useHttpGet ?? false, compression]);
    const cached = this.sharedClients.get(key);
    if (cached) return cached;
    const base = { url: this.target.url, protocol, httpVersion, useHttpGet: options.useHttpGet ?? false, compression };
    let client: SyncClient;
    if (token === "token") client = this.wire.client({ ...base, token: this.target.tokens.token });
    else if (token === "token2") {
      if (!this.target.tokens.token2) throw new Skip("no --token2 given");
      client = this.wire.client({ ...base, token: this.target.tokens.token2 });
    } else if (token === "none") client = this.wire.client(base);
    else if (token === "unknown") client = this.wire.client({ ...base, token: `unknown-${randomBytes(8).toString("hex")}` });
    else if (token === "raw") {
      if (!this.target.tokens.token) throw new Skip("no --token given");
      client = this.wire.client({ ...base, authorization: this.target.tokens.token });
    }
    else client = this.wire.client({ ...base, authorization: token.authorization });
    this.sharedClients.set(key, client);
    return client;
  }

  /** A collection for this case: invented, or one of the server's fixed ones. */
  collection(name: string): string {
    if (this.features.openCollections) return `${this.ns}_${name}`;
    const fixed = this.features.collections;
    let hash = 0;
    for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    return fixed[hash % fixed.length]!;
  }

  /** The collection configured with a conflict strategy (skips when none). */
  strategyCollection(strategy: Strategy): string {
    const declared = this.features.conflictStrategies[strategy];
    if (declared) return declared;
    if (strategy === "report" && this.features.openCollections) return this.collection("report");
    throw new Skip(`a collection with conflict strategy ${strategy} (conflictStrategies) is not declared in ${this.features.source ?? "the server's features (--config)"}`);
  }

  /** A document id unique to this case. */
  doc(name: string): string {
    return `${this.ns}-${name}`;
  }

  /** A client id unique to this case. */
  clientId(name = "a"): string {
    return `${this.ns}-client-${name}`;
  }

  /** A fresh client sequence (unique for every client id of this case). */
  seq(): bigint {
    return ++this.sequence;
  }

  /** Only the changes of this case's documents (collections may be shared). */
  mine(changes: readonly ChangeEvent[]): ChangeEvent[] {
    return changes.filter((c) => c.documentId.startsWith(`${this.ns}-`));
  }

  /** The checkpoint at the current head of the collections. */
  async head(collections: string[]): Promise<Checkpoint | undefined> {
    return (await pullAll(this.client(), collections)).checkpoint;
  }

  require(feature: string): void {
    const missing = missingFeature(this.features, this.target.tokens, feature);
    if (missing) throw new Skip(missing);
  }
}
