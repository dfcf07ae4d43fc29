import type { SubscribeEventsResponse } from "@recq-mesh/protocol/gen/recq/v1/event_service";
import type { StoredEvent } from "../store/event-store";

/** The prefix of an Any's type URL that every protobuf runtime and grpcurl resolve by the name after it. */
export const ANY_TYPE_URL_PREFIX = "type.googleapis.com/";

/** A stored event as a client sees it: its payload an Any holding the stored bytes as they are, not re-encoded. */
export function publishedEvent(event: StoredEvent): SubscribeEventsResponse {
  return {
    message: {
      $case: "event",
      value: {
        position: String(event.position),
        aggregateType: event.aggregateType,
        aggregateId: event.aggregateId,
        sequence: String(event.sequence),
        payload: { typeUrl: ANY_TYPE_URL_PREFIX + event.type, value: event.payload },
        time: new Date(event.timeMs),
        commandId: event.commandId,
        metadata: event.metadata,
      },
    },
  };
}

/** Everything up to `position` is read, matching or not; `caughtUp` once the stored events are. */
export function progress(position: number, caughtUp: boolean): SubscribeEventsResponse {
  return { message: { $case: "progress", value: { position: String(position), caughtUp } } };
}
