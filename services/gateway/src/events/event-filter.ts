import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { SubscribeEventsRequest } from "@recq-mesh/protocol/gen/recq/v1/event_service";
import { isSagaStep } from "../sagas/saga-states";
import type { StoredEvent } from "../store/event-store";

/** What a subscription's filter may name: the event messages and aggregate types of the gateway's descriptor sets. */
export interface KnownNames {
  isEventType(fullName: string): boolean;
  readonly aggregateTypes: ReadonlySet<string>;
}

/** Which events a subscription wants: by type (any of a set), aggregate type, aggregate id. Unset = any. */
export class EventFilter {
  private constructor(
    private readonly types: ReadonlySet<string> | undefined,
    private readonly aggregateType: string | undefined,
    private readonly aggregateId: string | undefined,
  ) {}

  /**
   * The filter a request asks for, or INVALID_ARGUMENT (INVALID_REQUEST) saying what is wrong with it: more types
   * than `maxTypes`, a name that is no event message or aggregate type of the descriptor sets (a filter that could
   * never match, most often a short name such as `TodoItemAdded`), an aggregate id without its type.
   */
  static parse(request: SubscribeEventsRequest, known: KnownNames, maxTypes: number): EventFilter {
    const { eventTypes, aggregateType, aggregateId } = request;
    if (eventTypes.length > maxTypes) {
      throw invalid(`the filter lists ${eventTypes.length} event types; a subscription may list at most ${maxTypes} (RECQ_MAX_EVENT_FILTER_TYPES)`);
    }
    const unknown = eventTypes.find((type) => !known.isEventType(type));
    if (unknown !== undefined) {
      throw invalid(`event_types: "${unknown}" is no message of the gateway's descriptor sets; name event messages in full, such as "todo.v1.TodoItemAdded"`);
    }
    if (aggregateId !== "" && aggregateType === "") throw invalid("aggregate_id requires aggregate_type: an aggregate id is unique only within its type");
    if (aggregateType !== "" && !known.aggregateTypes.has(aggregateType)) {
      throw invalid(`aggregate_type: "${aggregateType}" is no aggregate type of the gateway's command services (${[...known.aggregateTypes].join(", ") || "none"})`);
    }
    return new EventFilter(eventTypes.length > 0 ? new Set(eventTypes) : undefined, aggregateType || undefined, aggregateId || undefined);
  }

  wants(event: StoredEvent): boolean {
    return (
      // Saga steps are components' private state (sagas/saga-states.ts), never clients' events.
      !isSagaStep(event.type) &&
      (this.types === undefined || this.types.has(event.type)) &&
      (this.aggregateType === undefined || event.aggregateType === this.aggregateType) &&
      (this.aggregateId === undefined || event.aggregateId === this.aggregateId)
    );
  }
}

function invalid(message: string): MeshError {
  return new MeshError(status.INVALID_ARGUMENT, message, Reason.INVALID_REQUEST);
}
