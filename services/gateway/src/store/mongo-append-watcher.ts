import { context, ROOT_CONTEXT } from "@opentelemetry/api";
import type { ChangeStream, Collection } from "mongodb";
import { Backoff, WakeableDelay } from "@recq-mesh/protocol";
import type { StoreLogger } from "./embedded-store-options";
import { POSITION_COUNTER_ID, type CounterDocument } from "./mongo-event-documents";

/**
 * The changes that move the head: writes to the position counter document (every append transaction `$inc`s it
 * once, whatever its number of events; the `$max` that creates or raises it too), projected down to the resume
 * token, which the driver needs to resume the stream after a resumable error.
 */
const COUNTER_CHANGES = [
  { $match: { "documentKey._id": POSITION_COUNTER_ID, operationType: { $in: ["insert", "update", "replace"] } } },
  { $project: { _id: 1 } },
];

/**
 * Notices appends made by other gateways on the same database. A change stream on the position counter document
 * is the wake-up signal: one change per append transaction, where a stream on `events` gave one per event to learn
 * the same new head. The truth stays the counter itself, which `onWake` reads. A wake-up is also given right after
 * the stream opens, for appends made before it did.
 *
 * Change streams need a replica set (or a sharded cluster) and the `changeStream` privilege on `counters`. When
 * opening or following the stream fails, the watcher polls — it calls `onWake` every `pollIntervalMs` — and tries
 * the stream again after a backoff (1 s, doubling to 30 s), until it follows it again.
 */
export class AppendWatcher {
  private stream: ChangeStream<CounterDocument, { _id: unknown }> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly retryDelay = new WakeableDelay();
  private closed = false;
  private readonly following: Promise<void>;

  constructor(
    private readonly counters: Collection<CounterDocument>,
    private readonly onWake: () => void,
    private readonly options: { pollIntervalMs: number; logger: StoreLogger | undefined },
  ) {
    this.following = context.with(ROOT_CONTEXT, () => this.run());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopPolling();
    this.retryDelay.wake();
    await this.stream?.close().catch(() => undefined);
    await this.following;
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(1_000, 30_000);
    while (!this.closed) {
      try {
        await this.follow(() => backoff.reset());
      } catch (error: unknown) {
        if (this.closed) return;
        this.startPolling(error);
        await this.retryDelay.wait(backoff.next());
      }
    }
  }

  /** Follows one change stream until it fails or the watcher closes; calls `opened` once it is open. */
  private async follow(opened: () => void): Promise<void> {
    const stream = this.counters.watch<CounterDocument, { _id: unknown }>(COUNTER_CHANGES);
    this.stream = stream;
    try {
      // The first tryNext opens the stream: from then on no move of the counter goes unnoticed.
      await stream.tryNext();
      opened();
      this.stopPolling();
      this.onWake();
      while (!this.closed) {
        await stream.next();
        this.onWake();
      }
    } finally {
      this.stream = undefined;
      await stream.close().catch(() => undefined);
    }
  }

  private startPolling(error: unknown): void {
    if (this.pollTimer !== undefined) return;
    this.options.logger?.warn("the change stream on the position counter failed: polling for other gateways' appends until it reopens", {
      error: error instanceof Error ? error.message : String(error),
      pollIntervalMs: this.options.pollIntervalMs,
    });
    this.pollTimer = setInterval(() => this.onWake(), this.options.pollIntervalMs);
    this.pollTimer.unref();
  }

  private stopPolling(): void {
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }
}
