// Test helpers: devices that hold exactly what the server delivered to them,
// over the wire, removals applied (PROTOCOL §13.6), for the tests of read
// rules and filters. Every pull page is checked as it arrives: within its
// limit, in increasing sequence, a document at most once.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { expect } from "vitest";
import type { ChangeEvent, Checkpoint, PullRequestSchema } from "../../../gen/ts/pocket/sync/v1/sync_pb.js";
import { syncClient } from "./testing.js";

type Filters = MessageInitShape<typeof PullRequestSchema>["filters"];

export interface DeviceOptions {
  /** Its bearer token. */
  readonly token: string;
  /** Per collection, the filter it reads "todos" under. */
  readonly filters?: Filters;
}

/** What a device holds: document id to document, and every change it was sent. */
abstract class Device {
  readonly held = new Map<string, string>();
  readonly events: ChangeEvent[] = [];

  protected apply(change: ChangeEvent): void {
    this.events.push(change);
    if (change.removed || change.deleted) this.held.delete(change.documentId);
    else this.held.set(change.documentId, change.document);
  }
}

/** A device that pulls "todos" when told to, from the checkpoint its last pull left. */
export class PullingDevice extends Device {
  checkpoint: Checkpoint | undefined;
  constructor(private readonly url: string, private readonly options: DeviceOptions & { readonly limit?: number }) {
    super();
  }

  async sync(): Promise<void> {
    const client = syncClient(this.url, "connect-proto-h2", this.options.token);
    const limit = this.options.limit ?? 3;
    for (;;) {
      const page = await client.pull({ collections: ["todos"], checkpoint: this.checkpoint, limit, filters: this.options.filters });
      expect(page.changes.length).toBeLessThanOrEqual(limit);
      const ids = page.changes.map((c) => c.documentId);
      expect(new Set(ids).size, "a document at most once per response").toBe(ids.length);
      const sequences = page.changes.map((c) => c.serverSequence);
      expect([...sequences].sort((a, b) => (a < b ? -1 : 1)), "in increasing sequence").toEqual(sequences);
      for (const change of page.changes) this.apply(change);
      this.checkpoint = page.checkpoint;
      if (!page.hasMore) return;
    }
  }
}

const streaming = new Set<AbortController>();

/** Ends every stream a StreamingDevice opened (for afterEach). */
export function stopStreamingDevices(): void {
  for (const controller of streaming) controller.abort();
  streaming.clear();
}

/** A device on a live stream of "todos" from the beginning. */
export class StreamingDevice extends Device {
  caughtUp = false;
  /** Why the stream ended, unless stopStreamingDevices() ended it. */
  error: unknown;
  constructor(url: string, options: DeviceOptions) {
    super();
    const controller = new AbortController();
    streaming.add(controller);
    const stream = syncClient(url, "connect-proto-h2", options.token).subscribe(
      { collections: ["todos"], heartbeatIntervalMs: 200, filters: options.filters },
      { signal: controller.signal },
    );
    void (async () => {
      try {
        for await (const message of stream) {
          if (message.event.case !== "changes") continue;
          for (const change of message.event.value.changes) this.apply(change);
          if (message.event.value.caughtUp) this.caughtUp = true;
        }
      } catch (error) {
        if (!controller.signal.aborted) this.error = error;
      }
    })();
  }
}
