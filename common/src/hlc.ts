// Hybrid logical clocks (docs/PROTOCOL.md §10): timestamps that respect
// causality even when wall clocks disagree, so last-write-wins gives the same
// answer on every replica.
export interface Timestamp {
  readonly wallTimeMs: bigint;
  readonly logical: number;
}

export const ZERO_TIMESTAMP: Timestamp = Object.freeze({ wallTimeMs: 0n, logical: 0 });

/** Orders (timestamp, clientId) pairs: wall time, then logical, then client id as bytes. */
export function compareTimestamps(a: Timestamp, aClientId: string, b: Timestamp, bClientId: string): number {
  if (a.wallTimeMs !== b.wallTimeMs) return a.wallTimeMs < b.wallTimeMs ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  return compareBytes(aClientId, bClientId);
}

function compareBytes(a: string, b: string): number {
  // UTF-16 code-unit order differs from UTF-8 byte order only for astral vs
  // high-BMP characters; client ids are ASCII by the schema, so this is exact.
  return a < b ? -1 : a > b ? 1 : 0;
}

export class HybridLogicalClock {
  private last: Timestamp;

  constructor(
    private readonly wallClock: () => number = Date.now,
    initial: Timestamp = ZERO_TIMESTAMP,
  ) {
    this.last = initial;
  }

  /** A timestamp for a local event, later than every timestamp issued or observed. */
  now(): Timestamp {
    const physical = BigInt(Math.floor(this.wallClock()));
    this.last =
      physical > this.last.wallTimeMs
        ? { wallTimeMs: physical, logical: 0 }
        : { wallTimeMs: this.last.wallTimeMs, logical: this.last.logical + 1 };
    return this.last;
  }

  /** Takes in a remote timestamp so that later local events sort after it. */
  observe(remote: Timestamp): void {
    if (compareTimestamps(remote, "", this.last, "") > 0) {
      this.last = { wallTimeMs: remote.wallTimeMs, logical: remote.logical };
    }
  }

  current(): Timestamp {
    return this.last;
  }
}
