// Reads a commit group makes for all its jobs at once. Each job declares up
// front what it will read (its documents, idempotency keys and client id);
// the group reads all of it in ONE storage call as it starts, and the jobs'
// reads are answered from that. On PostgreSQL the group holds the sequence
// counter, which every server's commits wait for, from its first read to its
// commit: one round trip instead of a few per job keeps that short.
import type { DocumentKey, GroupReader, IdempotencyRecord, StoredChange } from "../storage/types.js";

/** What one job will read. Reads it did not declare still work; they just go to storage on their own. */
export interface JobReads {
  readonly documents?: readonly DocumentKey[];
  readonly records?: { readonly clientId: string; readonly clientSequences: readonly bigint[] };
  readonly owner?: string;
}

const documentKey = (collection: string, documentId: string) => `${collection}\u0000${documentId}`;
const recordKey = (clientId: string, clientSequence: bigint) => `${clientId}\u0000${clientSequence}`;

/** `reader` with everything `wanted` read in advance (null: known to be absent). */
export async function prefetched(reader: GroupReader, wanted: readonly JobReads[]): Promise<GroupReader> {
  const documents = new Map<string, DocumentKey>();
  const records = new Map<string, { clientId: string; clientSequence: bigint }>();
  const owners = new Set<string>();
  for (const reads of wanted) {
    for (const key of reads.documents ?? []) documents.set(documentKey(key.collection, key.documentId), key);
    for (const clientSequence of reads.records?.clientSequences ?? []) {
      records.set(recordKey(reads.records!.clientId, clientSequence), { clientId: reads.records!.clientId, clientSequence });
    }
    if (reads.owner !== undefined) owners.add(reads.owner);
  }
  if (documents.size + records.size + owners.size === 0) return reader;
  const found = await reader.readBatch({ documents: [...documents.values()], records: [...records.values()], owners: [...owners] });
  return new PrefetchedReader(
    reader,
    new Map([...documents.keys()].map((k, i) => [k, found.documents[i] ?? null])),
    new Map([...records.keys()].map((k, i) => [k, found.records[i] ?? null])),
    new Map([...owners].map((k, i) => [k, found.owners[i] ?? null])),
  );
}

class PrefetchedReader implements GroupReader {
  constructor(
    private readonly reader: GroupReader,
    private readonly documents: ReadonlyMap<string, StoredChange | null>,
    private readonly records: ReadonlyMap<string, IdempotencyRecord | null>,
    private readonly owners: ReadonlyMap<string, string | null>,
  ) {}

  async getDocuments(keys: readonly DocumentKey[]): Promise<Array<StoredChange | undefined>> {
    const known = keys.map((k) => this.documents.get(documentKey(k.collection, k.documentId)));
    const missing = keys.filter((_, i) => known[i] === undefined);
    const read = missing.length ? await this.reader.getDocuments(missing) : [];
    let next = 0;
    return known.map((k) => (k === undefined ? read[next++] : (k ?? undefined)));
  }

  async getIdempotencyRecords(clientId: string, clientSequences: readonly bigint[]): Promise<Array<IdempotencyRecord | undefined>> {
    const known = clientSequences.map((s) => this.records.get(recordKey(clientId, s)));
    const missing = clientSequences.filter((_, i) => known[i] === undefined);
    const read = missing.length ? await this.reader.getIdempotencyRecords(clientId, missing) : [];
    let next = 0;
    return known.map((k) => (k === undefined ? read[next++] : (k ?? undefined)));
  }

  async getClientOwner(clientId: string): Promise<string | undefined> {
    const known = this.owners.get(clientId);
    return known === undefined ? this.reader.getClientOwner(clientId) : (known ?? undefined);
  }

  getHistoricState(collection: string, documentId: string, revision: string): Promise<StoredChange | undefined> {
    return this.reader.getHistoricState(collection, documentId, revision);
  }

  readBatch(...args: Parameters<GroupReader["readBatch"]>) {
    return this.reader.readBatch(...args);
  }
}
