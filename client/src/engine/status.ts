// The engine's observable state: its status (from the states of the push and
// pull sides), its counters, and the errors it reports.
import { ConnectError } from "@connectrpc/connect";
import { BehaviorSubject, Subject } from "rxjs";
import type { SyncError, SyncStats, SyncStatus } from "./types.js";

/** The state of one side (push or pull); the status is the worst of the two. */
export type PartState = "idle" | "busy" | "offline" | "error";

type Counter = "pushCount" | "pullCount" | "conflictCount";

export class StatusTracker {
  readonly status$ = new BehaviorSubject<SyncStatus>("idle");
  readonly stats$ = new BehaviorSubject<SyncStats>({ pushCount: 0, pullCount: 0, conflictCount: 0, lastSyncAt: null });
  readonly errors = new Subject<SyncError>();
  private pushState: PartState = "idle";
  private pullState: PartState = "idle";

  get push(): PartState {
    return this.pushState;
  }
  get pull(): PartState {
    return this.pullState;
  }

  setPush(state: PartState): void {
    this.pushState = state;
    this.update();
  }

  setPull(state: PartState): void {
    this.pullState = state;
    this.update();
  }

  /** Both sides idle (the engine stopped). */
  reset(): void {
    this.pushState = "idle";
    this.pullState = "idle";
    this.update();
  }

  private update(): void {
    const states = [this.pushState, this.pullState];
    const status: SyncStatus = states.includes("error")
      ? "error"
      : states.includes("offline")
        ? "offline"
        : states.includes("busy")
          ? "syncing"
          : "idle";
    if (!this.status$.closed && this.status$.value !== status) this.status$.next(status);
  }

  bump(delta: Partial<Record<Counter, number>>): void {
    const s = this.stats$.value;
    if (this.stats$.closed) return;
    this.stats$.next({
      ...s,
      pushCount: s.pushCount + (delta.pushCount ?? 0),
      pullCount: s.pullCount + (delta.pullCount ?? 0),
      conflictCount: s.conflictCount + (delta.conflictCount ?? 0),
    });
  }

  /** A push or pull completed now. */
  touch(): void {
    if (!this.stats$.closed) this.stats$.next({ ...this.stats$.value, lastSyncAt: Date.now() });
  }

  report(kind: SyncError["kind"], error: unknown, change?: { collection: string; documentId: string }): void {
    if (this.errors.closed) return;
    this.errors.next({ kind, error: ConnectError.from(error), ...(change ? { collection: change.collection, documentId: change.documentId } : {}) });
  }

  complete(): void {
    this.status$.complete();
    this.stats$.complete();
    this.errors.complete();
  }
}
