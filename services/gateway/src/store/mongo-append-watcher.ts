import { context, ROOT_CONTEXT } from "@opentelemetry/api";
import type { ChangeStream, Collection } from "mongodb";
import { Backoff, WakeableDelay } from "@recq-mesh/protocol";
import type { StoreLogger } from "./embedded-store-options";
import type { EventDocument } from "./mongo-event-documents";

/**
 * Notices appends made by other gateways on the same database. A change stream on `events` (inserts only,
 * projected down to the resume token) is the wake-up signal; the truth stays the position counter, which
 * `onWake` reads. A wake-up is also given right after the stream opens, for appends made before it did.
 *
 * Change streams need a replica set (or a sharded cluster) and the `changeStream` privilege. When opening or
 * following the stream fails, the watcher polls — it calls `onWake` every `pollIntervalMs` — and tries the stream
 * again after a backoff (1 s, doubling to 30 s), until it follows it again.
 */
export class AppendWatcher {
  private stream: ChangeStream<EventDocument, { _id: unknown }> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly retryDelay = new WakeableDelay();
  private closed = false;
  private readonly following: Promise<void>;

  constructor(
    private readonly events: Collection<EventDocument>,
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
    const stream = this.events.watch<EventDocument, { _id: unknown }>([{ $match: { operationType: "insert" } }, { $project: { _id: 1 } }]);
    this.stream = stream;
    try {
      // The first tryNext opens the stream: from then on no insert goes unnoticed.
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
    this.options.logger?.warn("the change stream on events failed: polling for other gateways' appends until it reopens", {
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
