import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import type { StoredEvent } from "../store/event-store";

/** A stored event as it travels on a link: built once per event and reused for every dispatch and consumer. */
export function toEnvelope(event: StoredEvent): EventEnvelope {
  return {
    position: String(event.position),
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    sequence: String(event.sequence),
    type: event.type,
    payload: event.payload,
    time: new Date(event.timeMs),
    commandId: event.commandId,
    metadata: event.metadata,
  };
}
