import { status } from "@grpc/grpc-js";
import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import { ConsumerRole, type ConsumeRequest, type ConsumeResponse } from "@recq-mesh/protocol/gen/recq/v1/link";
import { MeshError, Reason, type Logger } from "@recq-mesh/protocol";
import { toEnvelope } from "../commands/envelopes";
import { checkCredentials } from "../links/credentials";
import type { ComponentAuthorization } from "../security/component-authorization";
import type { EventStore } from "../store/event-store";
import { ConsumerSession, type ConsumeCall } from "./consumer-session";
import { DeadEventDelivery } from "./dead-events/dead-event-delivery";
import type { ParkedChains } from "./dead-events/parked-chains";
import { SerialPump } from "./serial-pump";
import type { ProjectionPositions } from "./projection-positions";

export interface ConsumerHubOptions {
  linkToken: string | undefined;
  /** Components' identities and grants (the security file); when set, instead of `linkToken`. */
  components?: ComponentAuthorization;
  /** Events read from the store per step of a catch-up. */
  readBatchSize: number;
  /** The parked events (the dead-event queue: dead-events/). */
  parked: ParkedChains;
}

interface ConsumerGroup {
  active: ConsumerSession | undefined;
  standbys: ConsumerSession[];
}

/**
 * Serves `recq.v1.HandlerLinkService/Consume`: each projection (consumer name) has one active instance, which
 * gets the stored events after its checkpoint in order, then live ones, as far as its permits allow; other
 * instances of the same name wait as standbys and take over, from their own checkpoint, when it goes away.
 */
export class ConsumerHub {
  private readonly groups = new Map<string, ConsumerGroup>();
  private readonly stopListening: () => void;
  /** The store's head as last seen (appends and reads of it): what each batch tells as `head_position`. */
  private knownHead = 0;
  /** The dead-event queue on these streams: parking, blocked aggregates, retries. */
  readonly deadEvents: DeadEventDelivery;

  constructor(
    private readonly store: EventStore,
    private readonly positions: ProjectionPositions,
    private readonly options: ConsumerHubOptions,
    private readonly logger: Logger,
  ) {
    this.deadEvents = new DeadEventDelivery(options.parked, store, {
      active: (consumer) => this.groups.get(consumer)?.active,
      wake: (session) => this.pump(session),
      fail: (session, thrown) => this.fail(session, thrown),
    }, logger);
    this.stopListening = store.onAppended((head) => {
      this.noteHead(head);
      for (const group of this.groups.values()) if (group.active) this.pump(group.active);
    });
  }

  readonly consume = (call: ConsumeCall): void => {
    let session: ConsumerSession | undefined;
    call.on("data", (request: ConsumeRequest) => {
      try {
        if (session === undefined) {
          session = this.open(call, request);
        } else {
          this.receive(session, request);
        }
      } catch (thrown) {
        const error = MeshError.from(thrown);
        if (session) this.leave(session);
        call.emit("error", { ...error.toStatus() });
      }
    });
    const end = () => {
      if (session) this.leave(session);
    };
    call.on("end", () => {
      end();
      call.end();
    });
    call.on("cancelled", end);
    call.on("error", end);
    call.on("close", end);
  };

  /** The position through which the consumer's active instance reflects the stream (0 without one); DeadEventService's status. */
  position(consumer: string): number {
    return this.positions.positionOf(consumer);
  }

  hasActive(consumer: string): boolean {
    return this.groups.get(consumer)?.active !== undefined;
  }

  close(): void {
    this.stopListening();
    for (const group of this.groups.values()) {
      for (const session of [group.active, ...group.standbys]) {
        if (!session) continue;
        session.closed = true;
        session.call.emit("error", { ...new MeshError(status.UNAVAILABLE, "the gateway is shutting down", Reason.SHUTTING_DOWN).toStatus() });
      }
    }
    this.groups.clear();
  }

  private open(call: ConsumeCall, request: ConsumeRequest): ConsumerSession {
    const open = request.open;
    if (open === undefined || !open.consumer) {
      throw new MeshError(status.INVALID_ARGUMENT, "the first message of a consumer stream must carry open.consumer", Reason.PROTOCOL_VIOLATION);
    }
    if (this.options.components === undefined) {
      checkCredentials(this.options.linkToken, open.credentials);
    } else {
      const component = this.options.components.identify(undefined, open.credentials, call.getAuthContext());
      if (!component.mayConsume(open.consumer)) {
        throw new MeshError(status.PERMISSION_DENIED, `component ${component.name} is not granted the consumer ${open.consumer}`, Reason.PERMISSION_DENIED);
      }
    }
    const session = new ConsumerSession(call, open);
    const group = this.groups.get(open.consumer) ?? { active: undefined, standbys: [] };
    this.groups.set(open.consumer, group);
    if (group.active === undefined) {
      this.activate(group, session);
    } else {
      group.standbys.push(session);
      this.announceStandby(session).catch((thrown: unknown) => this.fail(session, thrown));
      this.logger.info("consumer waits as standby", { consumer: open.consumer, instance: open.instanceId });
    }
    this.receive(session, request);
    return session;
  }

  private activate(group: ConsumerGroup, session: ConsumerSession): void {
    group.active = session;
    this.positions.reset(session.consumer, session.effectivePosition);
    this.logger.info("consumer active", { consumer: session.consumer, instance: session.open.instanceId, after: session.cursor });
    this.pump(session);
  }

  private receive(session: ConsumerSession, request: ConsumeRequest): void {
    if (request.permits > 0) session.permits += request.permits;
    const processed = Number(request.processedPosition);
    if (processed > session.processed) session.processed = processed;
    const group = this.groups.get(session.consumer);
    if (group?.active !== session) return;
    if (request.failure !== undefined) this.deadEvents.failed(session, request.failure);
    if (request.redrivenHandledPosition !== "0") this.deadEvents.redrivenHandled(session, Number(request.redrivenHandledPosition));
    this.deadEvents.progressed(session);
    this.positions.advance(session.consumer, session.effectivePosition);
    this.updateStandbys(group);
    this.pump(session);
  }

  private isActive(session: ConsumerSession): boolean {
    return !session.closed && this.groups.get(session.consumer)?.active === session;
  }

  private leave(session: ConsumerSession): void {
    if (session.closed) return;
    session.closed = true;
    const group = this.groups.get(session.consumer);
    if (group === undefined) return;
    this.deadEvents.left(session);
    if (group.active === session) {
      group.active = undefined;
      const next = group.standbys.shift();
      if (next) this.activate(group, next);
    } else {
      group.standbys = group.standbys.filter((s) => s !== session);
    }
    if (group.active === undefined && group.standbys.length === 0) {
      this.groups.delete(session.consumer);
      this.positions.forget(session.consumer);
    }
  }

  /** Sends what the session may have, in order; one pump per session at a time. */
  private pump(session: ConsumerSession): void {
    session.pump ??= new SerialPump(
      async () => {
        if (!session.announced) {
          await this.announce(session);
          // Parked chains being retried go on with this instance, after its opening answer.
          if (session.announced) this.deadEvents.activated(session);
        }
        await this.catchUp(session);
      },
      () => session.closed,
      (thrown) => this.fail(session, thrown),
    );
    session.pump.wake();
  }

  private async catchUp(session: ConsumerSession): Promise<void> {
    while (session.permits > 0 && this.isActive(session)) {
      // No more than the permits allow: the store reads events back from its journal, and what a step does not
      // send it reads again on the next one.
      const events = await this.store.readAll(session.cursor, Math.min(this.options.readBatchSize, session.permits));
      // While the store read, this session may have closed and a standby taken over: it must not move
      // the projection's position any more.
      if (events.length === 0 || !this.isActive(session)) return;
      const batch: EventEnvelope[] = [];
      // Events of aggregates blocked by parked ones: parked instead of sent, and named for the consumer to pass.
      const parkings: Promise<void>[] = [];
      const skipPositions: string[] = [];
      for (const event of events) {
        if (session.permits === 0) break;
        session.cursor = event.position;
        if (!session.wants(event.type)) continue;
        const parking = this.deadEvents.parkIfBlocked(session, event);
        if (parking !== undefined) {
          parkings.push(parking);
          skipPositions.push(String(event.position));
          continue;
        }
        batch.push(toEnvelope(event));
        this.deadEvents.noteSent(session, event);
        session.permits -= 1;
        session.lastSent = event.position;
      }
      // Durable before any later position is sent: the consumer's checkpoint may then move past them.
      await Promise.all(parkings);
      this.positions.advance(session.consumer, session.effectivePosition);
      this.updateStandbys(this.groups.get(session.consumer));
      if (session.closed) return;
      // A step that found nothing wanted still tells a consumer that is catching up when it passed its opening
      // head: its projection is then caught up although no event came (one such message per activation).
      const passedHead = session.catchingUp && session.cursor >= (session.openingHead ?? 0);
      if (batch.length > 0 || skipPositions.length > 0 || passedHead) await session.write({ ...this.batch(session, batch), skipPositions });
    }
  }

  /**
   * The opening answer of a session that became active: its role, the position delivery starts after, the head
   * it must reach to be caught up, and the position its checkpoint already reflects. Written before any event,
   * whatever the permits.
   */
  private async announce(session: ConsumerSession): Promise<void> {
    const head = await this.readHead();
    if (!this.isActive(session)) return;
    session.announced = true;
    session.openingHead = head;
    await session.write({ ...this.batch(session, []), role: ConsumerRole.CONSUMER_ROLE_ACTIVE, deliveryAfterPosition: String(session.cursor) });
  }

  /** The standby answer: the head, and how far the active instance has brought the projection. */
  private async announceStandby(session: ConsumerSession): Promise<void> {
    const head = await this.readHead();
    if (session.closed || this.isActive(session)) return;
    session.openingHead = head;
    session.reported = Math.max(session.reported, this.positions.positionOf(session.consumer));
    session.call.write(this.standbyAnswer(session, head));
  }

  /**
   * Tells each standby that is still catching up how far the active instance has got: with a shared view
   * store, the standby's queries read what the active instance writes. Stops once a standby passed its head.
   */
  private updateStandbys(group: ConsumerGroup | undefined): void {
    if (group === undefined || group.standbys.length === 0 || group.active === undefined) return;
    const position = this.positions.positionOf(group.active.consumer);
    for (const standby of group.standbys) {
      if (standby.openingHead === undefined || !standby.catchingUp || position <= standby.reported) continue;
      standby.reported = position;
      standby.call.write(this.standbyAnswer(standby, this.knownHead));
    }
  }

  /** A standby's acknowledgement: where its delivery would start on a takeover, and the active instance's progress. */
  private standbyAnswer(session: ConsumerSession, head: number): ConsumeResponse {
    return {
      events: [],
      standby: true,
      headPosition: String(head),
      reflectedPosition: String(session.reported),
      role: ConsumerRole.CONSUMER_ROLE_STANDBY,
      deliveryAfterPosition: String(session.cursor),
      skipPositions: [],
      redriven: false,
      answeredFailurePosition: "0",
    };
  }

  /** A message of an active session: its events, the head as known, and the position examined so far. */
  private batch(session: ConsumerSession, events: EventEnvelope[]): ConsumeResponse {
    session.reported = Math.max(session.reported, session.cursor);
    return {
      events,
      standby: false,
      headPosition: String(Math.max(this.knownHead, session.cursor)),
      reflectedPosition: String(session.cursor),
      role: ConsumerRole.CONSUMER_ROLE_UNSPECIFIED,
      deliveryAfterPosition: "0",
      skipPositions: [],
      redriven: false,
      answeredFailurePosition: "0",
    };
  }

  private async readHead(): Promise<number> {
    this.noteHead(await this.store.headPosition());
    return this.knownHead;
  }

  private noteHead(head: number): void {
    if (head > this.knownHead) this.knownHead = head;
  }

  private fail(session: ConsumerSession, thrown: unknown): void {
    this.logger.error("consumer delivery failed", { consumer: session.consumer, error: String(thrown) });
    session.call.emit("error", { ...MeshError.from(thrown).toStatus() });
  }
}
