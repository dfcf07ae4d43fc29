import { status, type Metadata, type Server } from "@grpc/grpc-js";
import {
  DeadEventServiceService,
  type ListParkedEventsRequest,
  type ListParkedEventsResponse,
  type ParkedEvent,
  type RetryParkedRequest,
  type RetryParkedResponse,
  type SkipParkedRequest,
  type SkipParkedResponse,
} from "@recq-mesh/protocol/gen/recq/v1/dead_events";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { AdminCheck } from "../../security/admin-access";
import { unaryMethod } from "../../server/unary-method";
import type { EventStore } from "../../store/event-store";
import type { DeadEventDelivery } from "./dead-event-delivery";
import { aggregateKey } from "./parked-chains";
import type { ParkedEntry } from "./parked-event-store";

export const DEAD_EVENT_SERVICE_NAME = "recq.v1.DeadEventService";

export interface DeadEventServiceOptions {
  /** The simple mode's token check (security/admin-access.ts); a security file's callers are checked before it. */
  admit: AdminCheck;
  /** The most events one ListParkedEvents answer carries (RECQ_DEAD_EVENT_PAGE_SIZE). */
  pageSize: number;
}

/** Where a consumer stands, for ListParkedEvents' status. */
export interface ConsumerStanding {
  position(consumer: string): number;
  hasActive(consumer: string): boolean;
  /** The key a consumer name's parked events are kept under (its serving generation's). */
  keyOf(consumer: string): string;
}

/** recq.v1.DeadEventService: what operators do with parked events (list, retry, skip). */
export class DeadEventService {
  constructor(
    private readonly delivery: DeadEventDelivery,
    private readonly standing: ConsumerStanding,
    private readonly store: EventStore,
    private readonly options: DeadEventServiceOptions,
  ) {}

  register(server: Server): void {
    const admit = (call: { metadata: Metadata }) => this.options.admit(call.metadata);
    server.addService(DeadEventServiceService, {
      listParkedEvents: unaryMethod(DeadEventServiceService.listParkedEvents.path, admit, (request: ListParkedEventsRequest) => this.list(request)),
      retryParked: unaryMethod(DeadEventServiceService.retryParked.path, admit, (request: RetryParkedRequest) => this.retry(request)),
      skipParked: unaryMethod(DeadEventServiceService.skipParked.path, admit, (request: SkipParkedRequest) => this.skip(request)),
    });
  }

  private async list(request: ListParkedEventsRequest): Promise<ListParkedEventsResponse> {
    const name = requiredConsumer(request.consumer);
    const consumer = this.standing.keyOf(name);
    const entries = this.delivery.chains.entriesOf(consumer);
    const limit = request.pageSize === 0 ? this.options.pageSize : Math.min(request.pageSize, this.options.pageSize);
    const after = Number(request.afterPosition);
    const page = entries.filter((entry) => entry.position > after).slice(0, limit + 1);
    const more = page.length > limit;
    const shown = page.slice(0, limit);
    const chainHeads = new Set([...this.delivery.chains.chainsOf(consumer).values()].map((chain) => chain[0]?.position));
    const head = await this.store.headPosition();
    const position = this.standing.position(name);
    return {
      events: shown.map((entry) => parkedEventOf(entry, !chainHeads.has(entry.position))),
      nextAfterPosition: more ? String(shown[shown.length - 1]!.position) : "0",
      status: {
        consumer,
        position: String(position),
        headPosition: String(head),
        parkedCount: entries.length,
        lag: String(Math.max(0, head - position) + entries.length),
        active: this.standing.hasActive(name),
      },
    };
  }

  private async retry(request: RetryParkedRequest): Promise<RetryParkedResponse> {
    const consumer = this.standing.keyOf(requiredConsumer(request.consumer));
    if ((request.aggregateType === "") !== (request.aggregateId === "")) {
      throw new MeshError(status.INVALID_ARGUMENT, "aggregate_type and aggregate_id go together: set both (one chain) or neither (every chain)", Reason.INVALID_REQUEST);
    }
    const aggregate = request.aggregateId === "" ? undefined : aggregateKey(request.aggregateType, request.aggregateId);
    return this.delivery.retry(consumer, aggregate);
  }

  private async skip(request: SkipParkedRequest): Promise<SkipParkedResponse> {
    const consumer = this.standing.keyOf(requiredConsumer(request.consumer));
    if (request.all === (request.position !== "0")) {
      throw new MeshError(status.INVALID_ARGUMENT, "name one parked event by position, or set all (not both)", Reason.INVALID_REQUEST);
    }
    const positions = request.all ? this.delivery.chains.entriesOf(consumer).map((entry) => entry.position) : [Number(request.position)];
    const skipped = await this.delivery.skip(consumer, positions);
    if (!request.all && skipped === 0) {
      throw new MeshError(status.NOT_FOUND, `consumer ${consumer} has no parked event at position ${request.position}`, Reason.INVALID_REQUEST);
    }
    return { skipped };
  }
}

function requiredConsumer(consumer: string): string {
  if (consumer === "") throw new MeshError(status.INVALID_ARGUMENT, "consumer is required", Reason.INVALID_REQUEST);
  return consumer;
}

function parkedEventOf(entry: ParkedEntry, waitingBehind: boolean): ParkedEvent {
  return {
    position: String(entry.position),
    aggregateType: entry.aggregateType,
    aggregateId: entry.aggregateId,
    eventType: entry.eventType,
    error: entry.error,
    attempts: entry.attempts,
    parkedTime: new Date(entry.parkedAtMs),
    waitingBehind,
  };
}
