import { status } from "@grpc/grpc-js";
import { MeshError, Reason, type Logger } from "@recq-mesh/protocol";
import type { EventStore } from "../store/event-store";
import { EventFilter, type KnownNames } from "./event-filter";
import { checkEventPermission, type EventPermissionTokens } from "./event-permission";
import { EventSubscription, type EventSubscriptionSettings, type SubscribeCall } from "./event-subscription";

export interface EventServiceOptions extends EventPermissionTokens, EventSubscriptionSettings {
  /** Event subscriptions open at once (RECQ_MAX_EVENT_SUBSCRIPTIONS), counted apart from domain subscriptions. */
  maxSubscriptions: number;
  /** Event types one subscription's filter may list (RECQ_MAX_EVENT_FILTER_TYPES). */
  maxFilterTypes: number;
}

/** How long a refused subscriber is told to wait: slots free as slowly as subscribers leave. */
const RETRY_AFTER_MS = 1000;

/**
 * Serves `recq.v1.EventService/SubscribeEvents`: the store's events to clients, filtered, from a position, then
 * live. One listener on the store's appends wakes every subscription; each reads the store itself, at its own
 * pace. They are counted apart from domain subscriptions (RECQ_MAX_SUBSCRIPTIONS): they read the store rather
 * than hold a handler's stream, and neither kind should be able to crowd out the other.
 */
export class EventService {
  private readonly subscriptions = new Set<EventSubscription>();
  private readonly stopListening: () => void;
  private closed = false;

  constructor(
    private readonly store: EventStore,
    private readonly known: KnownNames,
    private readonly options: EventServiceOptions,
    private readonly logger: Logger,
  ) {
    this.stopListening = store.onAppended(() => {
      for (const subscription of this.subscriptions) subscription.wake();
    });
  }

  /** Event subscriptions open now. */
  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  readonly subscribeEvents = (call: SubscribeCall): void => {
    this.open(call).catch((thrown: unknown) => call.emit("error", { ...MeshError.from(thrown).toStatus() }));
  };

  /** Ends every subscription with UNAVAILABLE / SHUTTING_DOWN and takes no more. */
  close(): void {
    this.closed = true;
    this.stopListening();
    const error = new MeshError(status.UNAVAILABLE, "the gateway is shutting down", Reason.SHUTTING_DOWN);
    for (const subscription of [...this.subscriptions]) subscription.end(error);
  }

  private async open(call: SubscribeCall): Promise<void> {
    checkEventPermission(this.options, call.metadata);
    const filter = EventFilter.parse(call.request, this.known, this.options.maxFilterTypes);
    const after = Number(call.request.afterPosition);
    if (this.closed) throw new MeshError(status.UNAVAILABLE, "the gateway is shutting down", Reason.SHUTTING_DOWN);
    if (this.subscriptions.size >= this.options.maxSubscriptions) {
      const why = `overloaded: the gateway holds ${this.subscriptions.size} event subscriptions, its limit (RECQ_MAX_EVENT_SUBSCRIPTIONS); retry later`;
      throw new MeshError(status.RESOURCE_EXHAUSTED, why, Reason.OVERLOADED, { retryAfterMs: RETRY_AFTER_MS });
    }
    const subscription = new EventSubscription(call, this.store, filter, after, this.options, () => this.subscriptions.delete(subscription));
    // Counted before the head is read, so that no two openings take the last slot.
    this.subscriptions.add(subscription);
    const head = await this.store.headPosition();
    if (after > head) {
      // The store has not come this far: a position from another store, or one that was reset. Following it
      // would skip the events up to it as they come, unseen.
      subscription.end(new MeshError(status.OUT_OF_RANGE, `after_position ${after} is past the last stored event (${head})`, Reason.INVALID_REQUEST));
      return;
    }
    this.logger.debug("event subscription opened", { after, peer: call.getPeer() });
    subscription.start();
  }
}
