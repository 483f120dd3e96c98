// The schema's rules for the three requests (proto/pocket/sync/v1/sync.proto),
// checked directly. protovalidate interprets the rules and CEL expressions at
// run time, which cost more per pushed change than everything else the
// server does with it; a valid push (nearly every push) is accepted here in a
// fraction of that. Any doubt falls back to protovalidate, which then words
// the violations, so this check may only ever say "valid" when protovalidate
// would: push-precheck.test.ts holds the two to the same verdicts on
// generated requests, and breaks when the schema's rules change.
import type { PullRequest, PushRequest, SubscribeRequest } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";

const CLIENT_ID = /^[A-Za-z0-9._:-]+$/;
const COLLECTION = /^[A-Za-z][A-Za-z0-9_-]*$/;
const DOCUMENT_ID = /^[A-Za-z0-9._~:@+=/-]+$/;
const MAX_CHANGES = 500;
const MAX_DOCUMENT_BYTES = 1024 * 1024;
const MAX_BASE_REVISION_CHARS = 128;
const OPERATION_INSERT = 1;
const OPERATION_DELETE = 3;

/** True only if `request` obeys every rule the schema states for it. */
export function pushObeysSchema(request: PushRequest): boolean {
  const { clientId, changes } = request;
  // The patterns admit ASCII only, so a matching string's length counts characters.
  if (clientId.length > 128 || !CLIENT_ID.test(clientId)) return false;
  if (changes.length < 1 || changes.length > MAX_CHANGES) return false;
  const documents = new Set<string>();
  const sequences = new Set<bigint>();
  for (const change of changes) {
    const { operation, collection, documentId, document, baseRevision, clientSequence, timestamp } = change;
    if (operation < 1 || operation > 3) return false;
    if (collection.length > 64 || !COLLECTION.test(collection)) return false;
    if (documentId.length > 256 || !DOCUMENT_ID.test(documentId)) return false;
    // A UTF-16 unit is at most 3 bytes of UTF-8: only long documents need counting.
    if (document.length * 3 > MAX_DOCUMENT_BYTES && Buffer.byteLength(document, "utf8") > MAX_DOCUMENT_BYTES) return false;
    if (baseRevision.length > MAX_BASE_REVISION_CHARS && codePoints(baseRevision) > MAX_BASE_REVISION_CHARS) return false;
    if (clientSequence <= 0n) return false;
    if (change.removed) return false;
    if (!timestamp || timestamp.wallTimeMs <= 0n) return false;
    if (operation !== OPERATION_DELETE && document === "") return false;
    if (operation === OPERATION_DELETE && document !== "") return false;
    if (operation === OPERATION_INSERT && baseRevision !== "") return false;
    const key = `${collection}\u0000${documentId}`;
    if (documents.has(key) || sequences.has(clientSequence)) return false;
    documents.add(key);
    sequences.add(clientSequence);
  }
  return true;
}

const MAX_COLLECTIONS = 64;
const MAX_PULL_LIMIT = 1000;
const MAX_HEARTBEAT_INTERVAL_MS = 300_000;
const MAX_READER_ID_CHARS = 128;

/** True only if `request` obeys every rule the schema states for it. */
export function pullObeysSchema(request: PullRequest): boolean {
  return request.limit <= MAX_PULL_LIMIT && readerObeysSchema(request);
}

/** True only if `request` obeys every rule the schema states for it. */
export function subscribeObeysSchema(request: SubscribeRequest): boolean {
  return request.heartbeatIntervalMs <= MAX_HEARTBEAT_INTERVAL_MS && readerObeysSchema(request);
}

/** The rules Pull and Subscribe share: the collections, and the optional client id. */
function readerObeysSchema(request: { readonly collections: readonly string[]; readonly clientId: string; readonly filters: Readonly<Record<string, unknown>> }): boolean {
  const { collections, clientId } = request;
  // Filters (their bounds, PROTOCOL §14) are left to protovalidate: a filtered read is the rarer one.
  for (const _ in request.filters) return false;
  if (clientId.length > MAX_READER_ID_CHARS && codePoints(clientId) > MAX_READER_ID_CHARS) return false;
  // None: every collection the principal may read (PROTOCOL §4.8).
  if (collections.length > MAX_COLLECTIONS) return false;
  for (let i = 0; i < collections.length; i++) {
    const collection = collections[i]!;
    if (collection.length > 64 || !COLLECTION.test(collection)) return false;
    for (let j = 0; j < i; j++) if (collections[j] === collection) return false;
  }
  return true;
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
