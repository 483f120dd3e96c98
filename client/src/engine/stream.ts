// The live stream: keeps Subscribe open, catches up, follows live changes,
// watches the heartbeat, and reconnects after any end (PROTOCOL §5.4).
import { classifyError } from "./backoff.js";
import type { EngineContext } from "./context.js";
import type { Puller } from "./pull.js";
import type { PushLoop } from "./push.js";

export class LiveStream {
  private abort: AbortController | null = null;

  constructor(
    private readonly ctx: EngineContext,
    private readonly puller: Puller,
    private readonly push: PushLoop,
  ) {}

  /** Ends the open stream (the loop stops if the engine no longer runs). */
  halt(): void {
    this.abort?.abort();
  }

  /** Re-opens the stream at once, with the current token. */
  reauthenticate(): void {
    this.abort?.abort(new ReauthSignal());
  }

  /** Runs until the engine stops. */
  async run(): Promise<void> {
    const { ctx, puller } = this;
    const { status, settings } = ctx;
    const heartbeat = settings.heartbeatInterval;
    let attempt = 0;
    while (ctx.running) {
      const abort = new AbortController();
      this.abort = abort;
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      const arm = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => abort.abort(new SilentStream()), heartbeat * 3);
      };
      // While catching up, a page is applied while the next message is
      // received and decoded; at most one at a time, and none after a page
      // that failed. Live pages (caughtUp) are applied before going on.
      let applying: Promise<void> | null = null;
      const apply = async (...page: Parameters<Puller["applyRemote"]>) => {
        if (applying) await applying;
        applying = puller.applyRemote(...page);
        applying.catch(() => undefined); // awaited with the next page or at the end
      };
      try {
        if (status.pull !== "error" && status.pull !== "offline") status.setPull("busy");
        const checkpoint = await puller.loadCheckpoint();
        arm();
        const stream = ctx.client.subscribe(
          { ...ctx.scope, checkpoint, clientId: ctx.clientId, heartbeatIntervalMs: heartbeat },
          ctx.callOptions(abort.signal),
        );
        for await (const message of stream) {
          arm();
          const event = message.event;
          if (event.case === "changes") {
            await apply(event.value.changes, event.value.checkpoint);
            if (event.value.caughtUp) {
              await applying;
              if (attempt > 0 || status.pull !== "idle") {
                // Reconnected: whatever waits in the outbox goes now.
                if (this.push.stalled) this.push.wake();
                this.push.request();
              }
              attempt = 0;
              status.setPull("idle");
              status.touch();
            }
          } else if (event.case === "heartbeat" && event.value.checkpoint) {
            await apply([], event.value.checkpoint);
            await applying;
          }
        }
        await applying;
        // The server ended the stream: resume from the stored checkpoint, at
        // once if it had caught up, after a short backoff if it ended early.
        if (status.pull !== "idle") {
          attempt++;
          await puller.sleeper.sleep(ctx.backoff(attempt));
        }
      } catch (error) {
        // Reconnect from the checkpoint of the last page stored, not one that is still being written.
        await (applying as Promise<void> | null)?.catch(() => undefined);
        if (!ctx.running) break;
        const reason: unknown = abort.signal.reason;
        if (abort.signal.aborted && reason instanceof ReauthSignal) continue;
        const kind = classifyError(error);
        if (kind === "resync") {
          try {
            await puller.resync(abort.signal);
            continue;
          } catch (resyncError) {
            error = resyncError;
          }
        }
        status.report("pull", error);
        attempt++;
        if (classifyError(error) === "fatal" || !settings.autoRetry) {
          status.setPull("error");
          await puller.sleeper.sleep(settings.maxRetryDelay); // or until forceSync / setAuthToken
        } else {
          status.setPull(attempt >= settings.maxAttempts ? "error" : "offline");
          await puller.sleeper.sleep(ctx.backoff(attempt));
        }
      } finally {
        clearTimeout(watchdog);
        this.abort = null;
      }
    }
  }
}

class ReauthSignal extends Error {
  constructor() {
    super("re-authenticating");
  }
}

class SilentStream extends Error {
  constructor() {
    super("no message for three heartbeat intervals");
  }
}
