import { context, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import { Attribute, SpanName, contextWithSpan, extractTraceContext, reservedCommandId, startMeshSpan } from "@recq-mesh/protocol";
import { decodeEvent } from "../handlers/command-runner";
import type { EventCodecs } from "../handlers/definitions";
import type { MeshCall } from "../services/mesh-call";
import type { CheckpointCoalescing } from "./checkpoint-coalescing";
import { CoalescedEventHandler } from "./coalesced-event-handler";
import type { ObserverContext, ObserverDefinition, ObserverEventMeta } from "./observer-definition";

/**
 * An observer as a consumer: handles each event (in a consumer span, a child of the command that caused it), then
 * moves its checkpoint. The handling and the checkpoint do not commit together: delivery is at least once, and the
 * commands it sends carry ids derived from the event so that the gateway runs them once. So the checkpoint's writes
 * are coalesced (checkpoint-coalescing.ts): a crash redelivers the events handled since the last write, harmlessly.
 */
export class ObserverHandler<C extends EventCodecs> extends CoalescedEventHandler {
  readonly eventTypes: string[];

  constructor(
    private readonly observer: ObserverDefinition<C>,
    private readonly call: MeshCall,
    coalescing: CheckpointCoalescing,
  ) {
    super(observer.checkpoints, observer.name, coalescing);
    this.eventTypes = Object.keys(observer.events);
  }

  /** At least once, a retried parked event too: its commands carry the ids derived the first time, so the gateway runs them once. */
  protected async run(envelope: EventEnvelope): Promise<void> {
    const position = Number(envelope.position);
    const parent = extractTraceContext(envelope.metadata);
    const span = startMeshSpan(
      SpanName.OBSERVER_HANDLE,
      {
        kind: SpanKind.CONSUMER,
        attributes: { [Attribute.CONSUMER]: this.observer.name, [Attribute.EVENT_TYPE]: envelope.type, [Attribute.POSITION]: position },
      },
      parent,
    );
    try {
      const event = decodeEvent(this.observer.events, envelope.type, envelope.payload);
      // Active while it runs: the commands the observer sends continue this trace.
      await context.with(contextWithSpan(span, parent), () => this.observer.handle(event, metaOf(envelope), this.contextFor(position)));
    } catch (thrown) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(thrown) });
      throw thrown;
    } finally {
      span.end();
    }
  }

  private contextFor(position: number): ObserverContext {
    // In the components' reserved namespace: no caller can take these ids first (the gateway refuses them).
    const commandId = reservedCommandId("observer", [this.observer.name], [position]);
    let calls = 0;
    const call: MeshCall = (method, request, options = {}) => {
      calls += 1;
      const derived = calls === 1 ? commandId : reservedCommandId("observer", [this.observer.name], [position, calls]);
      return this.call(method, request, { ...options, commandId: options.commandId ?? derived });
    };
    return { commandId, call };
  }
}

function metaOf(envelope: EventEnvelope): ObserverEventMeta {
  return {
    position: Number(envelope.position),
    aggregateType: envelope.aggregateType,
    aggregateId: envelope.aggregateId,
    sequence: Number(envelope.sequence),
    timeMs: envelope.time?.getTime() ?? 0,
    commandId: envelope.commandId,
    type: envelope.type,
    metadata: envelope.metadata,
  };
}
