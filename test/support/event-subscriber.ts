import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import {
  EventServiceClient,
  SubscribeEventsRequest,
  type PublishedEvent,
  type SubscriptionProgress,
} from "@recq-mesh/protocol/gen/recq/v1/event_service";
import { eventually } from "./mesh-harness";

/** One client's event subscription through the gateway, with what it received, in order. */
export interface EventSubscriber {
  events: PublishedEvent[];
  progress: SubscriptionProgress[];
  /** Every message's position in arrival order: an event's, or a progress message's. */
  positions: { kind: "event" | "progress"; position: number }[];
  /** The last position seen, event or progress: where a resumed subscription starts. */
  readonly lastSeen: number;
  readonly caughtUp: boolean;
  /** Settles when the call ends with its status (a subscription never ends OK by itself; a cancel is CANCELLED). */
  ended: Promise<ServiceError>;
  cancel(): void;
}

export function eventClient(address: string): EventServiceClient {
  return new EventServiceClient(address, credentials.createInsecure());
}

/** Opens a subscription; `token` goes as `authorization: Bearer <token>`. */
export function subscribeEvents(client: EventServiceClient, request: Partial<SubscribeEventsRequest> = {}, token?: string): EventSubscriber {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
  const call = client.subscribeEvents(SubscribeEventsRequest.fromPartial(request), metadata);
  let lastSeen = Number(request.afterPosition ?? 0);
  let caughtUp = false;
  // A client that cancels takes nothing more, whatever grpc-js still hands it: what it resumes from is what it took.
  let cancelled = false;
  const subscriber: EventSubscriber = {
    events: [],
    progress: [],
    positions: [],
    get lastSeen() {
      return lastSeen;
    },
    get caughtUp() {
      return caughtUp;
    },
    ended: new Promise((resolve) => call.on("error", resolve)),
    cancel: () => {
      cancelled = true;
      call.cancel();
    },
  };
  call.on("data", (response: { message?: { $case: "event"; value: PublishedEvent } | { $case: "progress"; value: SubscriptionProgress } }) => {
    const message = response.message;
    if (cancelled) return;
    if (message?.$case === "event") {
      subscriber.events.push(message.value);
      lastSeen = Number(message.value.position);
      subscriber.positions.push({ kind: "event", position: lastSeen });
    } else if (message?.$case === "progress") {
      subscriber.progress.push(message.value);
      lastSeen = Number(message.value.position);
      caughtUp ||= message.value.caughtUp;
      subscriber.positions.push({ kind: "progress", position: lastSeen });
    }
  });
  return subscriber;
}

/** Waits until the subscriber has received `count` events. */
export async function eventsReceived(subscriber: EventSubscriber, count: number, timeoutMs = 10_000): Promise<void> {
  await eventually(async () => {
    if (subscriber.events.length < count) throw new Error(`${subscriber.events.length} events received, not ${count}`);
  }, timeoutMs);
}
