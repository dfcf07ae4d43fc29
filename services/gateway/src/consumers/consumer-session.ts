import type { ServerDuplexStream } from "@grpc/grpc-js";
import { generationKey } from "@recq-mesh/protocol";
import type { ConsumeRequest, ConsumeResponse, ConsumerOpen } from "@recq-mesh/protocol/gen/recq/v1/link";
import { SentEvents } from "./dead-events/sent-events";
import type { SerialPump } from "./serial-pump";
import { isSagaStep } from "../sagas/saga-states";
import { writeWithBackpressure } from "./stream-backpressure";

export type ConsumeCall = ServerDuplexStream<ConsumeRequest, ConsumeResponse>;

/** One projector instance's consumer stream and how far it has got. */
export class ConsumerSession {
  /** Events with position ≤ cursor have been examined (sent, or skipped as not wanted). */
  cursor: number;
  /** Position of the last event sent. */
  lastSent = 0;
  /** The projector's reported checkpoint. */
  processed: number;
  permits = 0;
  /**
   * The store's head when this session's opening answer was written (undefined until then): the position the
   * consumer must reflect to be caught up.
   */
  openingHead: number | undefined;
  /** Whether the opening answer of this session's time as the active instance was written. */
  announced = false;
  /** The largest `reflected_position` sent on this stream. */
  reported = 0;
  closed = false;
  /** Its catch-up-then-live loop, made by the hub on its first wake. */
  pump: SerialPump | undefined;
  /** Events sent and not yet reported processed: what a failure report (the dead-event queue) is checked against. */
  readonly sent = new SentEvents();
  readonly types: ReadonlySet<string> | undefined;

  constructor(
    readonly call: ConsumeCall,
    readonly open: ConsumerOpen,
  ) {
    const after = Number(open.afterPosition);
    this.cursor = after;
    this.processed = after;
    this.types = open.eventTypes.length > 0 ? new Set(open.eventTypes) : undefined;
  }

  get consumer(): string {
    return this.open.consumer;
  }

  /** The generation of the projection's views this stream writes (1 when unset). */
  get generation(): number {
    return Math.max(1, this.open.generation);
  }

  /** A stream rebuilding a new generation, beside the projection's own. */
  get rebuild(): boolean {
    return this.open.rebuild;
  }

  /**
   * The group this stream belongs to: the projection's own (its name, what consistency tokens wait on) or, for a
   * rebuild, that generation's (`generationKey`), whose progress moves nothing a query waits on.
   */
  get groupKey(): string {
    return this.rebuild ? this.streamKey : this.consumer;
  }

  /** This stream's consumer key, from its name and generation: what the dead-event queue keys its events by. */
  get streamKey(): string {
    return generationKey(this.consumer, this.generation);
  }

  /** True until the consumer has been told it reflects the stream through its opening head. */
  get catchingUp(): boolean {
    return this.openingHead === undefined || this.reported < this.openingHead;
  }

  /** Every type it names; without names, every domain event (saga steps only when named: sagas/saga-states.ts). */
  wants(type: string): boolean {
    return this.types === undefined ? !isSagaStep(type) : this.types.has(type);
  }

  /**
   * The position through which the projection reflects every event: once everything sent is processed, every
   * examined event counts (the skipped ones need no work); before, only the projector's checkpoint does.
   */
  get effectivePosition(): number {
    return this.processed >= this.lastSent ? Math.max(this.cursor, this.processed) : this.processed;
  }

  /**
   * Writes a batch; resolves when the stream can take more (grpc-js backpressure), or when the stream goes
   * away meanwhile — the pump then sees the session closed, and no listener is left behind.
   */
  write(response: ConsumeResponse): Promise<void> {
    return writeWithBackpressure(this.call, response);
  }
}
