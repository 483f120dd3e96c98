// The commit feed publishes in sequence order whoever committed, never a
// watermark above a change it has not published: an own commit waits for
// others' commits below it to be read; a read that fails publishes nothing.
import { describe, expect, it } from "vitest";
import { stored } from "../storage/testing.js";
import type { StoredChange } from "../storage/types.js";
import { CommitFeed, FEED_PAGE } from "./commit-feed.js";

/** A storage's committed changes, read back by the feed; `hold` makes reads wait, `fail` makes them fail. */
class Committed {
  changes: StoredChange[] = [];
  last = 0n;
  reads: Array<[bigint, bigint]> = [];
  fail = false;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  add(...sequences: number[]): StoredChange[] {
    const added = sequences.map((s) => stored("t", `d${s}`, BigInt(s)));
    this.changes.push(...added);
    this.last = BigInt(Math.max(Number(this.last), ...sequences));
    return added;
  }
  hold() {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }
  release() {
    this.gate = undefined;
    this.open?.();
  }
  readCommitted = async (after: bigint, upTo: bigint, limit: number) => {
    this.reads.push([after, upTo]);
    await this.gate;
    if (this.fail) throw new Error("the database is away");
    const bound = upTo < this.last ? upTo : this.last;
    const changes = this.changes.filter((c) => c.event.serverSequence > after && c.event.serverSequence <= bound).slice(0, limit);
    return { changes, lastSequence: this.last };
  };
}

function feedOn(storage: Committed | Record<string, never>, from = 0n) {
  const feed = new CommitFeed(storage as Committed);
  const published: Array<{ sequences: bigint[]; watermark: bigint; complete: boolean }> = [];
  feed.onPublish((changes, watermark, complete) => published.push({ sequences: changes.map((c) => c.event.serverSequence), watermark, complete }));
  feed.start(from);
  return { feed, published };
}
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe("the commit feed", () => {
  it("publishes an own commit at once when everything below it was published", () => {
    const storage = new Committed();
    const { feed, published } = feedOn(storage);
    feed.ownCommit({ after: 0n, lastSequence: 2n, changes: storage.add(1, 2) });
    expect(published).toEqual([{ sequences: [1n, 2n], watermark: 2n, complete: true }]);
    expect(feed.watermark).toBe(2n);
    expect(storage.reads).toEqual([]); // nothing read back
  });

  it("holds an own commit until another server's commits below it are read and published", async () => {
    const storage = new Committed();
    const { feed, published } = feedOn(storage, 5n);
    storage.add(6, 7, 8, 9, 10); // another server's group (5, 10], not heard of yet
    storage.hold();
    feed.ownCommit({ after: 10n, lastSequence: 15n, changes: storage.add(11, 12, 13, 14, 15) });
    expect(published).toEqual([]); // 11-15 must not go out before 6-10
    expect(feed.watermark).toBe(5n);
    storage.release();
    await settle();
    expect(storage.reads).toEqual([[5n, 10n]]);
    expect(published).toEqual([
      { sequences: [6n, 7n, 8n, 9n, 10n], watermark: 10n, complete: true },
      { sequences: [11n, 12n, 13n, 14n, 15n], watermark: 15n, complete: true },
    ]);
  });

  it("reads what another server committed when told, once, and skips own commits it already read back", async () => {
    const storage = new Committed();
    const { feed, published } = feedOn(storage);
    const own = storage.add(1, 2);
    storage.add(3);
    feed.committedUpTo(3n); // heard before this server's own commit was handed over
    await settle();
    feed.ownCommit({ after: 0n, lastSequence: 2n, changes: own });
    feed.committedUpTo(2n); // its own notification, late
    await settle();
    expect(published).toEqual([{ sequences: [1n, 2n, 3n], watermark: 3n, complete: true }]);
  });

  it("reads a long gap in pages, each published up to its last change", async () => {
    const storage = new Committed();
    const { feed, published } = feedOn(storage);
    storage.add(...Array.from({ length: FEED_PAGE + 3 }, (_, i) => i + 1));
    storage.add(FEED_PAGE + 4);
    feed.committedUpTo(BigInt(FEED_PAGE + 4));
    await settle();
    expect(published.map((p) => [p.sequences.length, p.watermark])).toEqual([[FEED_PAGE, BigInt(FEED_PAGE)], [4, BigInt(FEED_PAGE + 4)]]);
  });

  it("publishes nothing above what it published while reads fail, and catches up once they succeed", async () => {
    const storage = new Committed();
    const { feed, published } = feedOn(storage);
    storage.add(1, 2);
    storage.fail = true;
    feed.committedUpTo(2n);
    feed.ownCommit({ after: 2n, lastSequence: 3n, changes: storage.add(3) });
    await settle();
    expect(published).toEqual([]);
    expect(feed.watermark).toBe(0n);
    storage.fail = false;
    await new Promise((resolve) => setTimeout(resolve, 300)); // the retry's backoff
    expect(published).toEqual([
      { sequences: [1n, 2n], watermark: 2n, complete: true },
      { sequences: [3n], watermark: 3n, complete: true },
    ]);
    feed.close();
  });

  it("sends readers to storage when it cannot read others' commits (a storage without readCommitted)", () => {
    const { feed, published } = feedOn({}, 1n);
    feed.ownCommit({ after: 4n, lastSequence: 5n, changes: [stored("t", "x", 5n)] });
    expect(published).toEqual([{ sequences: [], watermark: 5n, complete: false }]);
    feed.ownCommit({ after: 5n, lastSequence: 6n, changes: [stored("t", "y", 6n)] });
    expect(published.at(-1)).toEqual({ sequences: [6n], watermark: 6n, complete: true });
  });

  it("publishes own commits in sequence order even when handed over out of order", async () => {
    const storage = new Committed();
    const { feed, published } = feedOn(storage);
    const [one, two] = [storage.add(1), storage.add(2)];
    feed.ownCommit({ after: 1n, lastSequence: 2n, changes: two! });
    feed.ownCommit({ after: 0n, lastSequence: 1n, changes: one! });
    await settle();
    expect(published).toEqual([
      { sequences: [1n], watermark: 1n, complete: true },
      { sequences: [2n], watermark: 2n, complete: true },
    ]);
  });
});
