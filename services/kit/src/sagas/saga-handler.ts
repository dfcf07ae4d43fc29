import { context, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import { Attribute, SpanName, contextWithSpan, extractTraceContext, startMeshSpan } from "@recq-mesh/protocol";
import type { CheckpointCoalescing } from "../consumer/checkpoint-coalescing";
import { CoalescedEventHandler } from "../consumer/coalesced-event-handler";
import { decodeEvent } from "../handlers/command-runner";
import type { DomainEvent, EventCodecs, EventMeta } from "../handlers/definitions";
import type { SagaDefinition } from "./saga-definition";
import type { LoadedSagaState, SagaStateClient } from "./saga-state-client";
import { SagaStepContext, type SagaSender } from "./saga-step-context";

/**
 * A saga as a consumer: for each event, the instance's state is loaded from the gateway, the step runs, and the
 * step is recorded there (with the expected version) before the checkpoint moves. A redelivered event finds its
 * position recorded and is skipped; a step cut short by a crash runs again and its sends, with the same command
 * ids, get the outcomes recorded the first time. So the checkpoint is only an optimisation, and its writes are
 * coalesced (checkpoint-coalescing.ts): a crash redelivers the events handled since the last write, each skipped.
 */
export class SagaHandler<C extends EventCodecs, S> extends CoalescedEventHandler {
  readonly eventTypes: string[];
  private readonly starters: ReadonlySet<string>;

  constructor(
    private readonly saga: SagaDefinition<C, S>,
    private readonly states: SagaStateClient,
    private readonly sender: SagaSender,
    coalescing: CheckpointCoalescing,
  ) {
    super(saga.checkpoints, saga.name, coalescing);
    this.eventTypes = Object.keys(saga.associate).filter((type) => type in saga.events);
    this.starters = new Set(saga.startsWith);
  }

  /**
   * One step. A retried parked event is a step like any other: its instance takes it if it has not handled a later
   * event meanwhile; one that has (its events came from other aggregates) ignores it, as it ignores any event older
   * than its last step — a saga instance does not go back.
   */
  protected async run(envelope: EventEnvelope): Promise<void> {
    const meta = metaOf(envelope);
    const event = decodeEvent(this.saga.events, envelope.type, envelope.payload);
    const associate = this.saga.associate[envelope.type as keyof C & string] as ((data: unknown, meta: EventMeta) => string | undefined) | undefined;
    const association = associate?.(event.data, meta);
    if (association !== undefined && association !== "") await this.step(envelope, event, association, meta);
  }

  private async step(envelope: EventEnvelope, event: DomainEvent<C>, association: string, meta: EventMeta): Promise<void> {
    const parent = extractTraceContext(envelope.metadata);
    const span = startMeshSpan(
      SpanName.SAGA_STEP,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          [Attribute.SAGA]: this.saga.name,
          [Attribute.SAGA_ASSOCIATION]: association,
          [Attribute.EVENT_TYPE]: envelope.type,
          [Attribute.POSITION]: meta.position,
        },
      },
      parent,
    );
    try {
      await context.with(contextWithSpan(span, parent), async () => {
        const loaded = await this.states.load(this.saga.name, association);
        if (!this.applies(loaded, envelope.type, meta.position)) return;
        const state = loaded.exists && loaded.state !== undefined ? this.saga.state.codec.decode(loaded.state.payload) : this.saga.state.initial();
        const step = new SagaStepContext(this.saga.name, association, meta, this.sender);
        const next = await this.saga.handle(event, state, step);
        step.throwIfTransient();
        await this.states.record({
          saga: this.saga.name,
          association,
          expectedVersion: loaded.version,
          position: meta.position,
          state: { type: this.saga.state.type, payload: Buffer.from(this.saga.state.codec.encode(next).finish()) },
          ended: step.ended,
        });
      });
    } catch (thrown) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(thrown) });
      throw thrown;
    } finally {
      span.end();
    }
  }

  /** Whether the event is a step of the instance: not ended, not handled already, and existing or started by it. */
  private applies(loaded: LoadedSagaState, type: string, position: number): boolean {
    if (!loaded.exists) return this.starters.has(type);
    return !loaded.ended && position > loaded.lastPosition;
  }
}

function metaOf(envelope: EventEnvelope): EventMeta {
  return {
    position: Number(envelope.position),
    aggregateId: envelope.aggregateId,
    sequence: Number(envelope.sequence),
    timeMs: envelope.time?.getTime() ?? 0,
    commandId: envelope.commandId,
  };
}
