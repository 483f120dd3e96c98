// What every storage does when the server's read rule is renamed (PROTOCOL
// §13.7): a client may hold documents the new rule hides, and lack unchanged
// ones it now shows, and no change will come to tell it. The rename takes a
// sequence of its own, above every committed one, that no change gets, and
// raises the purge watermarks to it: every position read under the old rule
// is below it and is refused (§8.3), so each client resyncs (§8.4) and ends
// with exactly what the new rule lets it read, while a position read after
// the rename (at or above it) is not.

/** The sequence a rename takes, and `purgedThrough` with every collection of `collections`, and every one it holds, raised to it. */
export function renamedReadRule(
  collections: readonly string[],
  purgedThrough: Readonly<Record<string, bigint>>,
  lastSequence: bigint,
): { lastSequence: bigint; purgedThrough: Record<string, bigint> } {
  // Nothing was ever committed: no client holds a position to refuse.
  if (lastSequence === 0n) return { lastSequence, purgedThrough: { ...purgedThrough } };
  const taken = lastSequence + 1n;
  const raised: Record<string, bigint> = { ...purgedThrough };
  for (const collection of new Set([...collections, ...Object.keys(purgedThrough)])) raised[collection] = taken;
  return { lastSequence: taken, purgedThrough: raised };
}
