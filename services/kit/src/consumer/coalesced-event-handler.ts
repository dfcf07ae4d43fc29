import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import type { CheckpointStore } from "./checkpoint-store";
import { CoalescedCheckpoint, type CheckpointCoalescing } from "./checkpoint-coalescing";
import type { ConsumerEventHandler } from "./event-handler";

/**
 * A consumer whose work does not commit with its checkpoint (an observer, a saga): its checkpoint writes are
 * coalesced (checkpoint-coalescing.ts), except where the dead-event queue's promises rest on a durable position — a
 * passed parked event, and the position the gateway has been told before a retried one is handled. A subclass says
 * how one event is handled (`run`).
 */
export abstract class CoalescedEventHandler implements ConsumerEventHandler {
  abstract readonly eventTypes: string[];
  private readonly position: CoalescedCheckpoint;

  protected constructor(checkpoints: CheckpointStore, consumer: string, coalescing: CheckpointCoalescing) {
    this.position = new CoalescedCheckpoint(checkpoints, consumer, coalescing);
  }

  /** Handles one event: the subclass's work, without the checkpoint. */
  protected abstract run(envelope: EventEnvelope): Promise<void>;

  checkpoint(): Promise<number> {
    return this.position.read();
  }

  async handle(envelope: EventEnvelope): Promise<void> {
    await this.run(envelope);
    await this.position.advance(Number(envelope.position));
  }

  /**
   * A parked event: the checkpoint moves past it, nothing is run. Durably at once, not coalesced: were it delivered
   * again after a crash, an operator's Skip in between (the entry deleted) would let it be handled.
   */
  async skip(position: number): Promise<void> {
    await this.position.advance(position);
    await this.position.flush();
  }

  flush(): Promise<void> {
    return this.position.flush();
  }

  /**
   * A parked event retried: run again, the checkpoint (already past it) untouched. The gateway sends a retry once
   * the reported position has passed the event: that position is made durable first, or a crash would deliver the
   * event normally again and park it a second time.
   */
  async handleRedriven(envelope: EventEnvelope): Promise<void> {
    await this.position.flush();
    await this.run(envelope);
  }
}
