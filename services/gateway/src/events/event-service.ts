import { status } from "@grpc/grpc-js";
import { SpanKind } from "@opentelemetry/api";
import { MeshError, Reason, recordRpcOutcome, startRpcSpan, type Logger } from "@recq-mesh/protocol";
import { EventServiceService } from "@recq-mesh/protocol/gen/recq/v1/event_service";
import { callerTraceContext } from "../server/caller-trace-context";
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

/** `recq.v1.EventService/SubscribeEvents`, as spans name a method. */
const SUBSCRIBE_EVENTS = EventServiceService.subscribeEvents.path.slice(1);

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
    // Its server span, as any caller's call has, from its opening to its status: how long it was followed, and why it ended.
    const span = startRpcSpan(SUBSCRIBE_EVENTS, SpanKind.SERVER, callerTraceContext(call.metadata));
    let finished = false;
    const finish = (error: MeshError | undefined) => {
      if (finished) return;
      finished = true;
      recordRpcOutcome(span, error ?? new MeshError(status.CANCELLED, "the caller ended the subscription", Reason.CANCELLED));
      span.end();
    };
    this.open(call, finish).catch((thrown: unknown) => {
      const error = MeshError.from(thrown);
      finish(error);
      call.emit("error", { ...error.toStatus() });
    });
  };

  /** Ends every subscription with UNAVAILABLE / SHUTTING_DOWN and takes no more. */
  close(): void {
    this.closed = true;
    this.stopListening();
    const error = new MeshError(status.UNAVAILABLE, "the gateway is shutting down", Reason.SHUTTING_DOWN);
    for (const subscription of [...this.subscriptions]) subscription.end(error);
  }

  private async open(call: SubscribeCall, onEnded: (error: MeshError | undefined) => void): Promise<void> {
    checkEventPermission(this.options, call.metadata);
    const filter = EventFilter.parse(call.request, this.known, this.options.maxFilterTypes);
    const after = Number(call.request.afterPosition);
    if (this.closed) throw new MeshError(status.UNAVAILABLE, "the gateway is shutting down", Reason.SHUTTING_DOWN);
    if (this.subscriptions.size >= this.options.maxSubscriptions) {
      const why = `overloaded: the gateway holds ${this.subscriptions.size} event subscriptions, its limit (RECQ_MAX_EVENT_SUBSCRIPTIONS); retry later`;
      throw new MeshError(status.RESOURCE_EXHAUSTED, why, Reason.OVERLOADED, { retryAfterMs: RETRY_AFTER_MS });
    }
    const subscription = new EventSubscription(call, this.store, filter, after, this.options, (error) => {
      this.subscriptions.delete(subscription);
      onEnded(error);
    });
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
