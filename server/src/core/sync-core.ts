// The server's logic, free of any transport: push (validation, idempotency,
// conflict detection and settlement, sequencing through the commit pipeline),
// pull (paged reads from a checkpoint) and tombstone purging. The serve layer
// adapts it to Connect; tests drive it directly.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
// Not common/src/index.js: that also carries the Connect error helpers, and
// the core knows no transport.
import { stringifyJson, type JsonObject } from "../../../common/src/json.js";
import { compareTimestamps } from "../../../common/src/hlc.js";
import {
  ChangeEventSchema,
  ChangeResultSchema,
  CheckpointSchema,
  Operation,
  PullResponseSchema,
  PushResponseSchema,
  type ChangeEvent,
  type ChangeResult,
  type Checkpoint,
  type Filter,
  type PullResponse,
  type PushRequest,
  type PushResponse,
} from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { indexedFields, type IndexSpec } from "../storage/index-values.js";
import type { IdempotencyRecord, PurgeResult, Storage, StoredChange } from "../storage/types.js";
import { indexing } from "./index-entries.js";
import { preparePushed, writeRefused, type Prepared } from "./push-checks.js";
import { settleConflict, strategyFor, strategyName, usesBase, type ConflictPolicy } from "./conflicts.js";
import { ErrorReason, StatusCode, SyncFailure } from "./failures.js";
import { CommitFeed, type CommitListener } from "./commit-feed.js";
import { asFailure, CommitPipeline, type Transaction } from "./pipeline.js";
import { StorageLink, type Availability } from "./storage-link.js";
import { nextRevision } from "./revisions.js";
import { compileFilters, NO_FILTERS, type Filters } from "./filter.js";
import { Reader, type Page, type ReadScope } from "./reader.js";
import { Visibility, type Positions } from "./visibility.js";

export type { ReadScope };

/** Whoever a request acts for, as established by authentication. */
export interface Principal {
  readonly id: string;
  readonly [key: string]: unknown;
}

/**
 * The one principal of a server without authentication. Its pushes neither
 * check nor record client-id bindings (PROTOCOL §12.5): without
 * authentication there is no one to tell apart, and a server whose operator
 * turns authentication on later binds each client id at its first
 * authenticated push.
 */
export const ANONYMOUS: Principal = Object.freeze({ id: "anonymous" });

export type Action = "read" | "write";

/**
 * Decides whether `principal` may read or write in `collection`. Called once per
 * collection without a change (may the principal use it at all?) and, when a
 * change is at hand, per change: a refused read hides the document, a refused
 * write rejects that change only. A pushed change is also refused when the
 * document it would overwrite (its current state, a tombstone included) is
 * refused a read (PROTOCOL §13.4); that read runs inside the commit pipeline,
 * against the state the change meets, so it should be fast.
 */
export type Authorize = (principal: Principal, action: Action, collection: string, change?: ChangeEvent) => boolean | Promise<boolean>;

/**
 * Server-side validation of a pushed change, after the schema rules. Return
 * nothing (or true) to accept; return false or a message to reject the change.
 */
export type Validate = (input: {
  change: ChangeEvent;
  document: JsonObject | null;
  principal: Principal;
}) => void | boolean | string | Promise<void | boolean | string>;

export interface SyncCoreOptions {
  readonly conflicts?: ConflictPolicy;
  readonly authorize?: Authorize;
  /**
   * `authorize`'s read verdict depends on the document's state (its owner
   * field, a share list), not only on its collection. The server then keeps
   * every superseded state for the tombstone retention and sends a removal
   * when a document stops being readable to a principal that may hold it
   * (move-out, PROTOCOL §13.6). Without it, a document that stops matching
   * stays on the devices that have it.
   */
  readonly documentReadRule?: boolean;
  /**
   * Names the read rule `authorize` applies (PROTOCOL §13.7); the storage
   * keeps the name. Opening it under another name makes every client that
   * holds a position resync, which removes the copies the rule no longer
   * lets it read and brings the unchanged documents it now may. Give it a
   * new name whenever the rule's verdicts change for documents that did
   * not (the owner field, the sharing logic). Default: "document" with
   * `documentReadRule`, "" without.
   */
  readonly readRuleName?: string;
  readonly validate?: Validate;
  /**
   * The fields filters may name (PROTOCOL §4.10, §4.12), per collection or
   * for every collection ("*"). An index declared on existing data is built
   * when the storage opens, before anything is served. Indexed collections
   * keep superseded states, as a document read rule does, for removals.
   */
  readonly indexes?: readonly IndexSpec[];
  /**
   * "process" (default): an acknowledged push survives the process being
   * killed. "fsync": it survives power loss; concurrent pushes share one
   * synced write.
   */
  readonly durability?: "process" | "fsync";
  /** Largest accepted document in bytes of UTF-8; at most the schema's 1 MiB. */
  readonly maxDocumentBytes?: number;
  /** How far ahead of the server's clock a change's timestamp may be. */
  readonly maxClockSkewMs?: number;
  /** How long tombstones are kept (and, unless `recordRetentionMs` says longer, idempotency records). */
  readonly tombstoneRetentionMs?: number;
  /**
   * How long idempotency records and the superseded states kept for
   * three-way merges are kept; default and minimum the tombstone retention
   * (PROTOCOL §12.4). Longer lets a client retry after a longer absence,
   * and lets tests purge tombstones quickly without losing records meanwhile.
   */
  readonly recordRetentionMs?: number;
  /** Page size of a pull that asks for limit 0. */
  readonly defaultPullLimit?: number;
  readonly now?: () => number;
}

export const DEFAULTS = {
  maxDocumentBytes: 1024 * 1024,
  maxClockSkewMs: 24 * 60 * 60 * 1000,
  tombstoneRetentionMs: 30 * 24 * 60 * 60 * 1000,
  defaultPullLimit: 500,
} as const;

/** Counters the metrics endpoint reads. */
export interface CoreCounters {
  pushes: number;
  changesAccepted: number;
  changesRejected: number;
  conflicts: Map<string, number>;
  idempotentReplays: number;
  pulls: number;
  changesPulled: number;
}


export class SyncCore {
  readonly counters: CoreCounters = {
    pushes: 0, changesAccepted: 0, changesRejected: 0, conflicts: new Map(), idempotentReplays: 0, pulls: 0, changesPulled: 0,
  };
  private readonly feed: CommitFeed;
  private readonly pipeline: CommitPipeline;
  private readonly link: StorageLink;
  private readonly options: Required<Pick<SyncCoreOptions, "maxDocumentBytes" | "maxClockSkewMs" | "tombstoneRetentionMs" | "defaultPullLimit" | "now">> & SyncCoreOptions;
  private readonly visibility: Visibility;
  private readonly reader: Reader;
  /** The purge waiting or running, which later requests join. */
  private purging: Promise<PurgeResult> | undefined;

  private constructor(
    private readonly storage: Storage,
    options: SyncCoreOptions,
  ) {
    // An option given as undefined (a flag not set) takes its default: spread
    // as is, it would override it (a NaN purge cutoff never purges).
    const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as SyncCoreOptions;
    const merged = { ...DEFAULTS, now: Date.now, ...given };
    this.options = { ...merged, maxDocumentBytes: Math.min(merged.maxDocumentBytes, DEFAULTS.maxDocumentBytes) };
    this.feed = new CommitFeed(storage);
    this.pipeline = new CommitPipeline(storage, { sync: options.durability === "fsync" }, (commit) => this.feed.ownCommit(commit));
    this.visibility = new Visibility(storage, options.authorize, options.documentReadRule === true);
    this.reader = new Reader({
      storage,
      authorize: options.authorize,
      epoch: () => {
        this.ensureOpen();
        return this.epoch;
      },
    });
    const indexes = this.options.indexes ?? [];
    const readRuleName = options.readRuleName ?? (options.documentReadRule ? "document" : "");
    this.link = new StorageLink(storage, this.pipeline, this.feed, async () => {
      await storage.setIndexes(indexes);
      await storage.setReadRule(readRuleName);
    });
  }

  /** Identity of the data set (PROTOCOL §8.3); empty until the storage first opened. */
  get epoch(): string {
    return this.link.openedEpoch ?? "";
  }

  /**
   * Opens the core on `storage`. A storage that cannot be reached yet does
   * not fail this: the core starts unavailable (every call answers
   * `unavailable`) and keeps trying; `availability` tells. Rejects when the
   * storage can never open (misconfiguration, a schema still used by a server from before clustering).
   */
  static async open(storage: Storage, options: SyncCoreOptions = {}): Promise<SyncCore> {
    const core = new SyncCore(storage, options);
    await core.link.start();
    return core;
  }

  /**
   * The watermark of this server's live fan-out: every commit at or below it
   * (by any server sharing the storage) has been published to onCommit's
   * listeners. Pulls read the storage's committed position instead.
   */
  get visibleSequence(): bigint {
    return this.feed.watermark;
  }

  /** Whether pushes can be committed now, and if not why. */
  get availability(): Availability {
    return this.link.availability;
  }

  /** Hears every change of availability, and every failed attempt to recover. */
  onAvailability(listener: (availability: Availability) => void): () => void {
    return this.link.onChange(listener);
  }

  /** Refuses calls until the storage has opened once: before, nothing can be read. */
  private ensureOpen(): void {
    if (!this.link.isOpen) {
      const why = this.link.availability.reason;
      throw new SyncFailure("unavailable", ErrorReason.UNAVAILABLE, `the server has not reached its storage yet${why ? ` (${why})` : ""}; retry`);
    }
  }

  /** Called with every durable commit's changes, in sequence order, whichever server committed them. */
  onCommit(listener: CommitListener): () => void {
    return this.feed.onPublish(listener);
  }

  // ---- push -------------------------------------------------------------

  async push(principal: Principal, request: PushRequest): Promise<PushResponse> {
    this.counters.pushes++;
    this.ensureOpen();
    // Write and validation hooks run before the pipeline, so slow user code
    // does not hold up sequencing; only the read rule on the state a change
    // would overwrite runs inside, as it needs that state.
    const prepared = await Promise.all(request.changes.map((change, i) => preparePushed(this.options, principal, request.clientId, change, i)));
    const live = prepared.flatMap((p) => (p.kind === "ok" ? [p.change] : []));
    const { result: results, position } = await this.pipeline.submit((tx) => this.apply(tx, principal, request.clientId, prepared), {
      documents: live,
      records: { clientId: request.clientId, clientSequences: live.map((c) => c.clientSequence) },
      owner: principal !== ANONYMOUS ? request.clientId : undefined,
    });
    for (const r of results) if (r.outcome.case === "rejected") this.counters.changesRejected++;
    return create(PushResponseSchema, {
      results,
      checkpoint: { serverSequence: position, epoch: this.epoch },
    });
  }

  private async apply(tx: Transaction, principal: Principal, clientId: string, prepared: readonly Prepared[]): Promise<ChangeResult[]> {
    const live = prepared.filter((p): p is Extract<Prepared, { kind: "ok" }> => p.kind === "ok");
    const bound = principal !== ANONYMOUS;
    const [owner, records, currents] = await Promise.all([
      bound ? tx.getClientOwner(clientId) : undefined,
      tx.getIdempotencyRecords(clientId, live.map((p) => p.change.clientSequence)),
      tx.getDocuments(live.map((p) => p.change)),
    ]);
    // Before anything is judged by the records: the refusal must not depend
    // on which of the owner's keys exist (PROTOCOL §12.5).
    if (owner !== undefined && owner !== principal.id) throw clientIdRefused(clientId);
    const readable = await Promise.all(currents.map((c) => !c || this.canReadNow(principal, c.event)));
    let next = 0;
    const results: ChangeResult[] = [];
    for (const item of prepared) {
      if (item.kind === "rejected") {
        results.push(item.result);
        continue;
      }
      const i = next++;
      results.push(await this.applyOne(tx, principal, item, records[i], currents[i]?.event, readable[i]!));
    }
    // Bound by the first push that records anything under it, or (data from
    // before bindings) meets a record already there.
    if (bound && owner === undefined && (tx.records.length > 0 || records.some(Boolean))) tx.bindClient(clientId, principal.id);
    return results;
  }

  private async applyOne(
    tx: Transaction,
    principal: Principal,
    item: Extract<Prepared, { kind: "ok" }>,
    record: IdempotencyRecord | undefined,
    current: ChangeEvent | undefined,
    currentReadable: boolean,
  ): Promise<ChangeResult> {
    const { change, document, fingerprint } = item;
    const result = (outcome: MessageInitShape<typeof ChangeResultSchema>["outcome"]) => create(ChangeResultSchema, { clientSequence: change.clientSequence, outcome });
    if (record) {
      if (record.fingerprint !== fingerprint) {
        return result({
          case: "rejected",
          value: {
            code: StatusCode.invalid_argument,
            reason: `ERROR_REASON_${ErrorReason[ErrorReason.IDEMPOTENCY_MISMATCH]}`,
            message: `client_sequence ${change.clientSequence} of ${change.clientId} was already used for a different change`,
            fieldViolations: [],
          },
        });
      }
      // A replay answers what this principal's own push produced, when it
      // was allowed to (the key is bound to it), even if it could not make
      // that push now.
      this.counters.idempotentReplays++;
      return record.outcome === "accepted"
        ? result({ case: "accepted", value: { revision: record.revision, serverSequence: record.serverSequence } })
        : result({ case: "resolved", value: { current: record.resolved!.event, strategy: record.strategy ?? "" } });
    }

    // A document (or tombstone) the principal may not read is neither
    // overwritten nor shown in a conflict: the answer is that of a refused
    // write, so it does not tell "hidden" from "not yours" (PROTOCOL §13.4).
    // Before the revision test, as revisions can be guessed.
    if (!currentReadable) return writeRefused(principal, change);

    const currentRevision = current?.revision ?? "";
    if (change.baseRevision === currentRevision) {
      const committed = this.commitChange(tx, change, change.deleted ? null : document, change.timestamp!, fingerprint, "accepted", undefined, current);
      this.counters.changesAccepted++;
      return result({ case: "accepted", value: { revision: committed.revision, serverSequence: committed.serverSequence } });
    }

    const strategy = strategyFor(this.options.conflicts ?? {}, change.collection);
    const name = strategyName(strategy);
    this.counters.conflicts.set(name, (this.counters.conflicts.get(name) ?? 0) + 1);
    const currentEvent = current ?? create(ChangeEventSchema, {
      collection: change.collection, documentId: change.documentId, operation: Operation.DELETE, deleted: true,
    });
    // The state the client edited, when kept (three-way merge, PROTOCOL §7)
    // and readable: a merge against a base the principal may not read would
    // answer whether a guess about it is right.
    const kept = usesBase(strategy) && change.baseRevision
      ? (await tx.getHistoricState(change.collection, change.documentId, change.baseRevision))?.event
      : undefined;
    const base = kept && (await this.canReadNow(principal, kept)) ? kept : undefined;
    const settlement = await settleConflict(strategy, change, change.deleted ? null : document, current, base);
    switch (settlement.kind) {
      case "report":
        return result({ case: "conflict", value: { current: currentEvent } });
      case "keep-server":
        return result({ case: "resolved", value: { current: currentEvent, strategy: name } });
      case "write": {
        const timestamp = current?.timestamp && compareTimestamps(current.timestamp, current.clientId, change.timestamp!, change.clientId) > 0
          ? current.timestamp
          : change.timestamp!;
        const committed = this.commitChange(tx, { ...change, baseRevision: currentRevision }, settlement.document, timestamp, fingerprint, "resolved", name, current);
        this.counters.changesAccepted++;
        return result({ case: "resolved", value: { current: committed, strategy: name } });
      }
    }
  }

  private commitChange(
    tx: Transaction,
    change: ChangeEvent,
    document: JsonObject | null,
    timestamp: NonNullable<ChangeEvent["timestamp"]>,
    fingerprint: string,
    outcome: "accepted" | "resolved",
    strategy?: string,
    current?: ChangeEvent,
  ): ChangeEvent {
    const serverSequence = tx.nextSequence();
    const deleted = document === null;
    // A resolved document may hold any depth a stored state had: stringified without recursion.
    const resolvedText = outcome === "accepted" || deleted ? undefined : stringifyJson(document);
    const sameAsSent = outcome === "accepted" || (!deleted && !change.deleted && resolvedText === change.document);
    const event = create(ChangeEventSchema, {
      ...change,
      operation: deleted ? Operation.DELETE : !current || current.deleted ? Operation.INSERT : Operation.UPDATE,
      document: deleted ? "" : sameAsSent ? change.document : resolvedText!,
      revision: nextRevision(current?.revision ?? change.baseRevision, serverSequence),
      serverSequence,
      timestamp,
      deleted,
    });
    if (outcome === "accepted") event.operation = change.operation;
    const committedAtMs = this.options.now();
    const stored: StoredChange = { event, committedAtMs };
    if (current && !current.deleted && usesBase(strategyFor(this.options.conflicts ?? {}, change.collection))) {
      tx.keep({ event: current, committedAtMs });
    }
    const indexed = indexedFields(this.options.indexes ?? [], change.collection);
    const index = indexed.length > 0 ? indexing(indexed, event, current) : undefined;
    if (index) tx.index(index.entries);
    if (current && (this.visibility.perDocument || index?.previousSelectable)) tx.supersede({ event: current, supersededBy: serverSequence, supersededAtMs: committedAtMs });
    tx.write(stored, {
      clientId: change.clientId,
      clientSequence: change.clientSequence,
      fingerprint,
      outcome,
      serverSequence,
      revision: event.revision,
      resolved: outcome === "resolved" ? stored : undefined,
      strategy,
      committedAtMs,
    });
    return event;
  }

  // ---- pull -------------------------------------------------------------

  /** Refuses a checkpoint that cannot be resumed (Reader.ensureResumable). */
  ensureResumable(collections: readonly string[], checkpoint: Checkpoint | undefined, every = false, filters: Filters = NO_FILTERS): Promise<void> {
    return this.reader.ensureResumable(collections, checkpoint, every, filters);
  }

  ensureReadable(principal: Principal, collections: readonly string[]): Promise<void> {
    return this.reader.ensureReadable(principal, collections);
  }

  /** May `principal` read `collection` at all? */
  mayReadCollection(principal: Principal, collection: string): boolean | Promise<boolean> {
    return this.reader.mayReadCollection(principal, collection);
  }

  /**
   * May `principal` see this change? (Document-level read rules.) Answers
   * synchronously when the rule does, so live fan-out stays synchronous.
   */
  canReadNow(principal: Principal, change: ChangeEvent): boolean | Promise<boolean> {
    return this.visibility.canRead(principal, change);
  }

  /** May `principal` see this change under its filters? Synchronous when the read rule is. */
  selects(principal: Principal, change: ChangeEvent, filters: Filters): boolean | Promise<boolean> {
    return this.visibility.selects(principal, change, filters);
  }

  /** What `principal` is sent of `changes` read after `positions` (PROTOCOL §13.3, §13.6, §4.10). */
  visibleChanges(principal: Principal, changes: readonly ChangeEvent[], positions: Positions, filters: Filters = NO_FILTERS): Promise<ChangeEvent[]> {
    return this.visibility.of(principal, changes, positions, filters);
  }

  /** The same, given the read verdicts; synchronous unless a kept state must be read. */
  settleVisible(principal: Principal, changes: readonly ChangeEvent[], verdicts: readonly boolean[], positions: Positions, filters: Filters = NO_FILTERS): readonly ChangeEvent[] | Promise<readonly ChangeEvent[]> {
    return this.visibility.settle(principal, changes, verdicts, positions, filters);
  }

  /** What a pull or subscribe reads (Reader.readScope). */
  readScope(principal: Principal, requested: readonly string[], checkpoint: Checkpoint | undefined): Promise<ReadScope> {
    return this.reader.readScope(principal, requested, checkpoint);
  }

  /** A request's filters, compiled against this server's indexes (PROTOCOL §4.10). */
  compileFilters(filters: Readonly<Record<string, Filter>>, requested: readonly string[]): Filters {
    return compileFilters(filters, requested, this.options.indexes ?? []);
  }

  async pull(
    principal: Principal,
    request: { collections: readonly string[]; checkpoint?: Checkpoint; limit?: number; filters?: Readonly<Record<string, Filter>> },
  ): Promise<PullResponse> {
    this.counters.pulls++;
    const filters = this.compileFilters(request.filters ?? {}, request.collections);
    const scope = await this.readScope(principal, request.collections, request.checkpoint);
    const page = await this.readPage(scope.collections, request.checkpoint, request.limit || this.options.defaultPullLimit, scope.upTo, scope.every, filters);
    const changes = await this.visibleChanges(principal, page.changes, request.checkpoint?.collections ?? {}, filters);
    this.counters.changesPulled += changes.length;
    return create(PullResponseSchema, { changes, checkpoint: page.checkpoint, hasMore: page.hasMore });
  }

  /** One page after the checkpoint (Reader.readPage). */
  readPage(collections: readonly string[], checkpoint: Checkpoint | undefined, limit: number, upTo?: bigint, every = false, filters: Filters = NO_FILTERS): Promise<Page> {
    return this.reader.readPage(collections, checkpoint, limit, upTo, every, filters);
  }

  // ---- retention --------------------------------------------------------

  /**
   * Purges tombstones and superseded states older than the tombstone
   * retention, and records older than the record retention. The storage serializes it with commit groups
   * itself (on PostgreSQL, chunk by chunk, so this server's pushes need not
   * wait for a whole purge); on a shared storage, another server purging
   * meanwhile makes this a no-op. A purge asked for while one runs joins it,
   * so purges slower than their timer's interval never queue up.
   */
  purge(): Promise<PurgeResult> {
    this.purging ??= this.purgeOnce().finally(() => {
      this.purging = undefined;
    });
    return this.purging;
  }

  private async purgeOnce(): Promise<PurgeResult> {
    this.ensureOpen();
    const { tombstoneRetentionMs, recordRetentionMs } = this.options;
    const now = this.options.now();
    try {
      return await this.storage.purge(now - tombstoneRetentionMs, now - Math.max(tombstoneRetentionMs, recordRetentionMs ?? 0));
    } catch (error) {
      throw asFailure(error);
    }
  }

  async close(): Promise<void> {
    await this.link.close();
    await this.pipeline.close();
    await this.storage.close();
  }
}

/** A whole push under another principal's client id. Names neither that principal nor any key. */
function clientIdRefused(clientId: string): SyncFailure {
  return new SyncFailure(
    "permission_denied",
    ErrorReason.PERMISSION_DENIED,
    `client_id "${clientId}" belongs to another principal; every client needs its own client id`,
  );
}

