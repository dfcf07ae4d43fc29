import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";

/**
 * What a consumer stream delivers its events to: a projection, an observer, a saga. The consumer client owns the
 * stream (opening from the checkpoint, permits, progress reports, reconnects); the handler owns what an event does
 * and where the checkpoint lives.
 */
export interface ConsumerEventHandler {
  /** Full protobuf names of the event types wanted; empty means all. */
  readonly eventTypes: string[];
  /** Runs once, before the first stream opens (a projection creates its indexes). */
  setup?(): Promise<void>;
  /**
   * The position through which events are handled: delivery starts after it. Durable for a projection; for a handler
   * that coalesces its checkpoint writes, the latest handled in this process (the store's at the first call).
   */
  checkpoint(): Promise<number>;
  /**
   * Handles one event and moves the checkpoint to its position. Called in global order, never concurrently, and
   * only for positions above the last one handled. Throwing leaves the event unhandled.
   */
  handle(envelope: EventEnvelope): Promise<void>;
  /**
   * Moves the checkpoint past `position` without handling the event there: the gateway parked it in the dead-event
   * queue. A handler without it is not parked for: an event it throws on is retried by reconnecting, for ever.
   */
  skip?(position: number): Promise<void>;
  /**
   * Handles a parked event sent again (RetryParked). It is at or below the checkpoint, which must not move; it must
   * take effect once however often it comes (a projection commits it under a checkpoint of its own).
   */
  handleRedriven?(envelope: EventEnvelope): Promise<void>;
  /**
   * Makes the checkpoint durable through the last event handled or skipped, for a handler that coalesces its
   * checkpoint writes (an observer, a saga: checkpoint-coalescing.ts). Called at a clean stop, a pause, and before a
   * failure is reported for parking.
   */
  flush?(): Promise<void>;
}
