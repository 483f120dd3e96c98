// Revisions are opaque to clients (PROTOCOL §6.1). Ours are
// "<generation>-<server sequence in hex>": the generation makes them readable
// in logs, the sequence makes each one unique without hashing the document.
export function nextRevision(current: string, serverSequence: bigint): string {
  const generation = current === "" ? 0 : Number.parseInt(current, 10) || 0;
  return `${generation + 1}-${serverSequence.toString(16)}`;
}
