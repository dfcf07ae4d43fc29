import { status, type ServerWritableStream } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { SubscribeEventsRequest, SubscribeEventsResponse } from "@recq-mesh/protocol/gen/recq/v1/event_service";
import { SerialPump } from "../consumers/serial-pump";
import { whenDrained } from "../consumers/stream-backpressure";
import type { EventStore } from "../store/event-store";
import type { EventFilter } from "./event-filter";
import { progress, publishedEvent } from "./published-events";

export type SubscribeCall = ServerWritableStream<SubscribeEventsRequest, SubscribeEventsResponse>;

export interface EventSubscriptionSettings {
  /** Events read from the store per step (RECQ_EVENT_READ_BATCH): the most a subscription holds in memory. */
  readBatch: number;
  /** How long the caller may take nothing while an event waits for it (RECQ_MAX_UNREAD_MS). */
  maxUnreadMs: number;
}

/**
 * One client's event subscription: reads the store after its position, a batch at a time, and writes what its
 * filter wants; once a read comes back short it has caught up, and each append wakes it again. The next batch is
 * read only when the caller's stream has taken the last (grpc-js backpressure), so a subscription holds at most
 * one batch; a caller that takes nothing for `maxUnreadMs` is let go with RESOURCE_EXHAUSTED.
 */
export class EventSubscription {
  /** Every event with a position up to here has been examined: sent, or left out by the filter. */
  private cursor: number;
  /** Events left out since the last message: after a batch's worth, a progress message says how far it got. */
  private skipped = 0;
  private caughtUp = false;
  private started = false;
  private ended = false;
  private readonly pump: SerialPump;

  constructor(
    private readonly call: SubscribeCall,
    private readonly store: EventStore,
    private readonly filter: EventFilter,
    afterPosition: number,
    private readonly settings: EventSubscriptionSettings,
    /** Called once, when the subscription ends: with the status it ended with, none when the caller went away. */
    private readonly onEnded: (error: MeshError | undefined) => void,
  ) {
    this.cursor = afterPosition;
    this.pump = new SerialPump(() => this.step(), () => this.ended, (thrown) => this.end(MeshError.from(thrown)));
    call.on("cancelled", () => this.end());
    call.on("close", () => this.end());
    call.on("error", () => this.end());
  }

  /** Starts reading the store: appends wake it from then on, not before (its position is checked first). */
  start(): void {
    // A caller that went away before this subscription listened for it (grpc-js says so once, on the call).
    if (this.call.cancelled) return this.end();
    this.started = true;
    this.wake();
  }

  /** Reads and sends what there is after the cursor: at the start, and after each append. */
  wake(): void {
    if (this.started && !this.ended) this.pump.wake();
  }

  /** Ends the subscription: with a status for the caller, or quietly when the caller is gone already. */
  end(error?: MeshError): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnded(error);
    if (error !== undefined) this.call.emit("error", { ...error.toStatus() });
  }

  private async step(): Promise<void> {
    const { readBatch } = this.settings;
    while (!this.ended) {
      const events = await this.store.readAll(this.cursor, readBatch);
      for (const event of events) {
        if (this.ended) return;
        if (this.filter.wants(event)) {
          await this.send(publishedEvent(event));
        } else if (++this.skipped >= readBatch) {
          await this.send(progress(event.position, false));
        }
        this.cursor = event.position;
      }
      // A short read reached the head as it was: live from now on, each append wakes the pump.
      if (events.length < readBatch) {
        if (!this.caughtUp && !this.ended) {
          this.caughtUp = true;
          await this.send(progress(this.cursor, true));
        }
        return;
      }
    }
  }

  /** Writes one message; if the stream holds all it will, waits until the caller takes some, for a bounded time. */
  private async send(message: SubscribeEventsResponse): Promise<void> {
    this.skipped = 0;
    if (this.call.write(message)) return;
    const { maxUnreadMs } = this.settings;
    const timer = setTimeout(() => {
      const why = `the caller has taken no event for ${maxUnreadMs} ms (RECQ_MAX_UNREAD_MS); resume from the last position it read`;
      this.end(new MeshError(status.RESOURCE_EXHAUSTED, why, Reason.QUEUE_FULL));
    }, maxUnreadMs);
    timer.unref();
    try {
      await whenDrained(this.call);
    } finally {
      clearTimeout(timer);
    }
  }
}
