import { context, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import { Attribute, SpanName, contextWithSpan, extractTraceContext, startMeshSpan } from "@recq-mesh/protocol";
import { decodeEvent } from "../handlers/command-runner";
import type { EventCodecs, ProjectionDefinition } from "../handlers/definitions";
import type { ConsumerEventHandler } from "./event-handler";
import { parkedMarker } from "./parked-marker";

/**
 * A projection as a consumer: each event's view writes and the checkpoint commit together in its view store, so the
 * view is exactly-once although delivery is at-least-once.
 */
export class ProjectionHandler<C extends EventCodecs> implements ConsumerEventHandler {
  readonly eventTypes: string[];

  constructor(
    private readonly projection: ProjectionDefinition<C>,
    private readonly consumer: string,
  ) {
    this.eventTypes = Object.keys(projection.events);
  }

  async setup(): Promise<void> {
    await this.projection.setup?.(this.projection.store);
  }

  checkpoint(): Promise<number> {
    return this.projection.store.checkpoint(this.consumer);
  }

  handle(envelope: EventEnvelope): Promise<void> {
    return this.applyUnder(this.consumer, envelope);
  }

  /** A parked event skips with an empty commit: the checkpoint moves past it, the views stay as they are. */
  skip(position: number): Promise<void> {
    return this.projection.store.commit(this.consumer, position, []);
  }

  /** Committed under a checkpoint of its own (`<consumer>#parked:<position>`): a second delivery changes nothing. */
  handleRedriven(envelope: EventEnvelope): Promise<void> {
    return this.applyUnder(parkedMarker(this.consumer, Number(envelope.position)), envelope);
  }

  private async applyUnder(checkpoint: string, envelope: EventEnvelope): Promise<void> {
    const position = Number(envelope.position);
    const parent = extractTraceContext(envelope.metadata);
    const span = startMeshSpan(
      SpanName.PROJECTOR_APPLY,
      {
        kind: SpanKind.CONSUMER,
        attributes: { [Attribute.CONSUMER]: this.consumer, [Attribute.EVENT_TYPE]: envelope.type, [Attribute.POSITION]: position },
      },
      parent,
    );
    const active = contextWithSpan(span, parent);
    try {
      const event = decodeEvent(this.projection.events, envelope.type, envelope.payload);
      const meta = {
        position,
        aggregateId: envelope.aggregateId,
        sequence: Number(envelope.sequence),
        timeMs: envelope.time?.getTime() ?? 0,
        commandId: envelope.commandId,
      };
      await context.with(active, async () => {
        const writes = await this.projection.apply(event, meta, this.projection.store);
        const write = startMeshSpan(SpanName.VIEW_WRITE, { attributes: { [Attribute.POSITION]: position, "recq.view.writes": writes.length } }, active);
        try {
          await this.projection.store.commit(checkpoint, position, writes);
        } finally {
          write.end();
        }
      });
    } catch (thrown) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(thrown) });
      throw thrown;
    } finally {
      span.end();
    }
  }
}
