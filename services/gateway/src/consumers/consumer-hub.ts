import { status } from "@grpc/grpc-js";
import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import { ConsumerRole, type ConsumeRequest, type ConsumeResponse } from "@recq-mesh/protocol/gen/recq/v1/link";
import { generationKey, MeshError, Reason, type Logger } from "@recq-mesh/protocol";
import { RebuildState } from "@recq-mesh/protocol/gen/recq/v1/projections";
import { toEnvelope } from "../commands/envelopes";
import { checkCredentials } from "../links/credentials";
import type { ComponentAuthorization } from "../security/component-authorization";
import type { EventStore } from "../store/event-store";
import { ConsumerSession, type ConsumeCall } from "./consumer-session";
import { DeadEventDelivery } from "./dead-events/dead-event-delivery";
import type { ParkedChains } from "./dead-events/parked-chains";
import { SerialPump } from "./serial-pump";
import { ConsumerHealth } from "./consumer-health";
import type { HealthRegistry } from "../health/health-registry";
import { consumerNameOf } from "@recq-mesh/protocol";
import type { ProjectionPositions } from "./projection-positions";
import { RebuildRegistry } from "./rebuilds/rebuild-registry";
import { nextActive, projectionStatus, rebuildRequest, type ProjectionStatus, type ProjectionRebuild } from "./rebuilds/projection-status";

export interface ConsumerHubOptions {
  linkToken: string | undefined;
  /** Components' identities and grants (the security file); when set, instead of `linkToken`. */
  components?: ComponentAuthorization;
  /** Events read from the store per step of a catch-up. */
  readBatchSize: number;
  /** The parked events (the dead-event queue: dead-events/). */
  parked: ParkedChains;
  /** Where each consumer's health is told (consumer-health.ts); none in tests that need no health service. */
  health?: HealthRegistry;
}

export interface ConsumerGroup {
  active: ConsumerSession | undefined;
  standbys: ConsumerSession[];
  /** The generation of the views the projection's queries read: the highest its instances opened with. */
  generation: number;
  /** The generation of the last active instance (undefined before the first). */
  servedGeneration: number | undefined;
  /** The group of a rebuild's streams, not a projection's own. */
  rebuild: boolean;
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
  private readonly rebuilds = new RebuildRegistry();
  private readonly health: ConsumerHealth;

  constructor(
    private readonly store: EventStore,
    private readonly positions: ProjectionPositions,
    private readonly options: ConsumerHubOptions,
    private readonly logger: Logger,
  ) {
    this.health = new ConsumerHealth(options.health);
    options.parked.onChange((key) => this.reportHealth(consumerNameOf(key)));
    for (const key of options.parked.consumerKeys()) this.reportHealth(consumerNameOf(key));
    this.deadEvents = new DeadEventDelivery(options.parked, store, {
      active: (key) => this.activeByStreamKey(key),
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

  /**
   * The dead-event key of a consumer name: its active stream's key (`name~gN` once a projection was rebuilt into
   * generation N), or the name itself when no instance is active (a key given as it is stays as it is).
   */
  keyOf(consumer: string): string {
    return this.groups.get(consumer)?.active?.streamKey ?? consumer;
  }

  private activeByStreamKey(key: string): ConsumerSession | undefined {
    for (const group of this.groups.values()) if (group.active?.streamKey === key) return group.active;
    return undefined;
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
    const group = this.groups.get(session.groupKey) ?? {
      active: undefined,
      standbys: [],
      generation: session.generation,
      servedGeneration: undefined,
      rebuild: session.rebuild,
    };
    this.groups.set(session.groupKey, group);
    // A stream of the new generation as the projection's own (beside the old one, which it replaces) completes a rebuild.
    if (session.rebuild) {
      this.rebuilds.running(session.consumer, session.generation, open.instanceId);
    } else {
      this.rebuilds.servedAt(session.consumer, session.generation, session.effectivePosition);
      // Also after a gateway restart, when a projection rebuilt meanwhile opens at its new generation at once.
      this.deadEvents.dropOlderGenerations(session.consumer, session.generation);
    }
    if (group.active === undefined) {
      this.activate(group, session);
    } else {
      group.standbys.push(session);
      this.announceStandby(session).catch((thrown: unknown) => this.fail(session, thrown));
      this.logger.info("consumer waits as standby", { consumer: open.consumer, instance: open.instanceId });
      // The projection's own stream at a new generation: its views are switched already (the old stream closes next).
      if (!session.rebuild) this.noteGeneration(group, session.generation);
    }
    this.receive(session, request);
    return session;
  }

  private activate(group: ConsumerGroup, session: ConsumerSession): void {
    group.active = session;
    const previous = group.servedGeneration;
    group.servedGeneration = session.generation;
    // A new generation takes over from an old one that it has caught up with: the position never goes back, so a
    // consistency token honoured before the switch stays honoured. Otherwise the instance's checkpoint is the truth
    // (an in-memory view store starts from 0 again).
    if (previous !== undefined && session.generation > previous) {
      this.positions.advance(session.groupKey, session.effectivePosition);
      // The old generation's stream, active until now, may have parked more since the new one opened.
      this.deadEvents.dropOlderGenerations(session.consumer, session.generation);
    } else {
      this.positions.reset(session.groupKey, session.effectivePosition);
    }
    this.noteGeneration(group, session.generation);
    this.logger.info("consumer active", { consumer: session.consumer, instance: session.open.instanceId, after: session.cursor });
    if (!session.rebuild) this.reportHealth(session.consumer);
    this.pump(session);
  }

  private receive(session: ConsumerSession, request: ConsumeRequest): void {
    if (request.permits > 0) session.permits += request.permits;
    const processed = Number(request.processedPosition);
    if (processed > session.processed) session.processed = processed;
    const group = this.groups.get(session.groupKey);
    if (group?.active !== session) return;
    if (request.failure !== undefined) this.deadEvents.failed(session, request.failure);
    if (request.redrivenHandledPosition !== "0") this.deadEvents.redrivenHandled(session, Number(request.redrivenHandledPosition));
    this.deadEvents.progressed(session);
    this.positions.advance(session.groupKey, session.effectivePosition);
    this.updateStandbys(group);
    this.pump(session);
  }

  private isActive(session: ConsumerSession): boolean {
    return !session.closed && this.groups.get(session.groupKey)?.active === session;
  }

  private leave(session: ConsumerSession): void {
    if (session.closed) return;
    session.closed = true;
    const group = this.groups.get(session.groupKey);
    if (group === undefined) return;
    this.deadEvents.left(session);
    this.noteLeft(group, session);
    if (group.active === session) {
      group.active = undefined;
      const next = nextActive(group.standbys);
      if (next) this.activate(group, next);
    } else {
      group.standbys = group.standbys.filter((s) => s !== session);
    }
    if (group.active === undefined && group.standbys.length === 0) {
      this.groups.delete(session.groupKey);
      this.positions.forget(session.groupKey);
    }
    if (!session.rebuild) this.reportHealth(session.consumer);
  }

  /** Tells the health service how a consumer (by name: its serving generation) stands. */
  private reportHealth(consumer: string): void {
    // Before the dead-event delivery exists (the store's parked events read at start), only the chains are needed.
    this.health?.report(consumer, this.groups.get(consumer)?.active !== undefined, this.options.parked.count(this.keyOf(consumer)));
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
      this.positions.advance(session.groupKey, session.effectivePosition);
      this.updateStandbys(this.groups.get(session.groupKey));
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
    await session.write({
      ...this.batch(session, []),
      role: ConsumerRole.CONSUMER_ROLE_ACTIVE,
      deliveryAfterPosition: String(session.cursor),
      currentGeneration: this.generationOf(session),
    });
  }

  /** The standby answer: the head, and how far the active instance has brought the projection. */
  private async announceStandby(session: ConsumerSession): Promise<void> {
    const head = await this.readHead();
    if (session.closed || this.isActive(session)) return;
    session.openingHead = head;
    session.reported = Math.max(session.reported, this.positions.positionOf(session.groupKey));
    session.call.write(this.standbyAnswer(session, head));
  }

  /**
   * Tells each standby that is still catching up how far the active instance has got: with a shared view
   * store, the standby's queries read what the active instance writes. Stops once a standby passed its head.
   */
  private updateStandbys(group: ConsumerGroup | undefined): void {
    if (group === undefined || group.standbys.length === 0 || group.active === undefined) return;
    const position = this.positions.positionOf(group.active.groupKey);
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
      rebuildGeneration: 0,
      currentGeneration: this.generationOf(session),
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
      rebuildGeneration: 0,
      currentGeneration: 0,
    };
  }

  /**
   * Asks the projection's active instance to rebuild it into the next generation; answers the rebuild in progress
   * instead when there is one. FAILED_PRECONDITION without an active instance: the rebuild runs in it.
   */
  requestRebuild(projection: string): ProjectionRebuild {
    const group = this.groups.get(projection);
    const active = group?.active;
    if (group === undefined || active === undefined || active.rebuild) {
      throw new MeshError(status.FAILED_PRECONDITION, `projection ${projection} has no instance connected to rebuild it`, Reason.INVALID_REQUEST);
    }
    if (!active.open.rebuildable) {
      throw new MeshError(
        status.FAILED_PRECONDITION,
        `projection ${projection} cannot be rebuilt: its instance ${active.open.instanceId} does not keep its views in generations (GenerationalViewStore)`,
        Reason.INVALID_REQUEST,
      );
    }
    const running = this.rebuilds.inProgress(projection);
    if (running !== undefined) return this.rebuildStatus(projection, running);
    const record = this.rebuilds.requested(projection, group.generation + 1, active.open.instanceId);
    active.call.write(rebuildRequest(active, record.generation, group.generation, this.knownHead));
    this.logger.info("projection rebuild requested", { consumer: projection, generation: record.generation, instance: active.open.instanceId });
    return this.rebuildStatus(projection, record);
  }

  /** A projection's status (undefined when no instance of it is connected). */
  projection(projection: string): ProjectionStatus | undefined {
    const group = this.groups.get(projection);
    if (group === undefined || group.rebuild) return undefined;
    const record = this.rebuilds.of(projection);
    const parked = this.deadEvents.chains.count(this.keyOf(projection));
    return projectionStatus(projection, group, this.positions.positionOf(projection), this.knownHead, record && this.rebuildStatus(projection, record), parked);
  }

  /** Every projection with an instance connected, by name. */
  projections(): ProjectionStatus[] {
    const names = [...this.groups.keys()].sort();
    return names.map((name) => this.projection(name)).filter((found): found is ProjectionStatus => found !== undefined);
  }

  private rebuildStatus(projection: string, record: NonNullable<ReturnType<RebuildRegistry["of"]>>): ProjectionRebuild {
    const running = this.groups.has(generationKey(projection, record.generation));
    const position = running ? this.positions.positionOf(generationKey(projection, record.generation)) : record.finalPosition;
    return { generation: record.generation, position: String(position), head: String(this.knownHead), state: record.state, message: record.message };
  }

  /** The generation the projection's queries read, as this gateway knows it. */
  private generationOf(session: ConsumerSession): number {
    return this.groups.get(session.consumer)?.generation ?? session.generation;
  }

  /** A higher generation became the projection's: standbys that read an older one follow it (it is being dropped). */
  private noteGeneration(group: ConsumerGroup, generation: number): void {
    if (generation <= group.generation) return;
    group.generation = generation;
    for (const standby of group.standbys) {
      if (standby.openingHead === undefined || standby.generation >= generation) continue;
      standby.call.write(this.standbyAnswer(standby, this.knownHead));
    }
  }

  /** A rebuild whose stream or requesting instance leaves before its switch is abandoned. */
  private noteLeft(group: ConsumerGroup, session: ConsumerSession): void {
    const record = this.rebuilds.inProgress(session.consumer);
    if (record === undefined) return;
    const position = this.positions.positionOf(generationKey(session.consumer, record.generation));
    if (session.rebuild && session.generation === record.generation && group.active === session) {
      this.rebuilds.abandoned(session.consumer, record.generation, position, `the rebuild stream of instance ${session.open.instanceId} closed before the switch`);
    } else if (!session.rebuild && record.state === RebuildState.REBUILD_STATE_REQUESTED && record.instanceId === session.open.instanceId) {
      this.rebuilds.abandoned(session.consumer, record.generation, position, `instance ${session.open.instanceId} went away before it started the rebuild`);
    }
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
