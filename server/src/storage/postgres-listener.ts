// The dedicated session of a PostgreSQL storage: it LISTENs on the schema's
// commit channel, so the server hears every other server's commits, and it
// is how the server knows it can reach its database at all. Its loss (a
// killed backend, a restarted PostgreSQL, a dead network path noticed by TCP
// keepalive or by a failed probe) is reported once; the storage then
// reconnects a new one.
import pg from "pg";

/** How a commit notification reads: "<epoch> <last sequence>". Well under NOTIFY's 8000-byte cap. */
export const notificationPayload = (epoch: string, lastSequence: bigint) => `${epoch} ${lastSequence}`;

export interface ListenerEvents {
  /** Every sequence up to `lastSequence` is committed. */
  committed(lastSequence: bigint): void;
  /** The session is gone; called once. */
  lost(cause: Error): void;
}

/** Longest wait for a probe's answer before the session is taken for dead. */
const PROBE_TIMEOUT_MS = 3_000;

export class CommitListener {
  private alive = true;
  private probing: Promise<void> | undefined;
  private epoch: string | undefined;

  private constructor(
    readonly client: pg.Client,
    private readonly events: ListenerEvents,
  ) {
    // An error on an idle connection is emitted, not thrown: without this
    // handler it would crash the process.
    client.on("error", (error) => this.lose(error));
    client.on("end", () => this.lose(new Error("the connection ended")));
    client.on("notification", (message) => this.heard(message.payload));
  }

  /** Connects and LISTENs, before anything is read: no commit after that read goes unheard. */
  static async connect(config: pg.ClientConfig, channel: string, events: ListenerEvents): Promise<CommitListener> {
    const client = new pg.Client(config);
    const listener = new CommitListener(client, events);
    listener.alive = false; // nothing to report until connected
    try {
      await client.connect();
      await client.query(`LISTEN "${channel}"`);
    } catch (error) {
      await listener.close();
      throw error;
    }
    listener.alive = true;
    return listener;
  }

  /** Notifications of data sets other than `epoch` (a colliding channel) are ignored. */
  follow(epoch: string): void {
    this.epoch = epoch;
  }

  private heard(payload: string | undefined): void {
    if (!this.alive || this.epoch === undefined || !payload) return;
    const [epoch, sequence] = payload.split(" ");
    if (epoch !== this.epoch || !sequence || !/^\d+$/.test(sequence)) return;
    this.events.committed(BigInt(sequence));
  }

  /**
   * Asks the session whether it is still there (after another connection
   * failed): no answer within a few seconds counts as lost.
   */
  probe(): Promise<void> {
    if (!this.alive) return Promise.resolve();
    this.probing ??= (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          this.client.query("SELECT 1"),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
          }),
        ]);
      } catch (error) {
        this.lose(error instanceof Error ? error : new Error(String(error)));
      } finally {
        clearTimeout(timer);
        this.probing = undefined;
      }
    })();
    return this.probing;
  }

  private lose(cause: Error): void {
    if (!this.alive) return;
    this.alive = false;
    void this.close();
    this.events.lost(cause);
  }

  /** Ends the session without reporting it lost; never throws. */
  async close(): Promise<void> {
    this.alive = false;
    this.client.removeAllListeners("end");
    this.client.removeAllListeners("notification");
    // Late errors of a dying connection must not crash the process.
    this.client.removeAllListeners("error");
    this.client.on("error", () => {});
    await this.client.end().catch(() => {});
  }
}
