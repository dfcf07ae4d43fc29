import { status } from "@grpc/grpc-js";
import { ConsumeResponse, type ConsumeFailure } from "@recq-mesh/protocol/gen/recq/v1/link";
import { MeshError, Reason, type Logger } from "@recq-mesh/protocol";
import { toEnvelope } from "../../commands/envelopes";
import type { EventStore, StoredEvent } from "../../store/event-store";
import type { ConsumerSession } from "../consumer-session";
import { consumerKey, isOlderGenerationKey } from "./consumer-key";
import { aggregateKey, type ParkedChains } from "./parked-chains";
import type { ParkedEntry } from "./parked-event-store";

/** What the dead-event queue needs of the consumer hub. */
export interface ConsumerSessions {
  /** The active session of a consumer key, if one is connected. */
  active(consumer: string): ConsumerSession | undefined;
  /** Runs the session's delivery loop again (an aggregate was unblocked). */
  wake(session: ConsumerSession): void;
  /** Fails the session's stream with what was thrown. */
  fail(session: ConsumerSession, thrown: unknown): void;
}

interface Redrive {
  /** Aggregate keys whose chains are to be sent again, in the order asked for; the first is being sent. */
  queue: string[];
  /** The parked event sent and not yet acknowledged, and the session it went to. */
  inFlight: { aggregate: string; position: number; session: ConsumerSession } | undefined;
}

/**
 * The dead-event queue on the consumer streams (docs/components.md, "Dead-event queue"): parks what a consumer
 * reports it could not handle, with the later events of that aggregate it was sent; parks, instead of sending,
 * each later event of a blocked aggregate; and sends parked chains again (RetryParked), one event at a time, to
 * the active instance.
 */
export class DeadEventDelivery {
  private readonly redrives = new Map<string, Redrive>();

  constructor(
    readonly chains: ParkedChains,
    private readonly store: EventStore,
    private readonly sessions: ConsumerSessions,
    private readonly logger: Logger,
  ) {}

  /**
   * In a catch-up step, for a wanted event: when its aggregate is blocked for the session's consumer, parks it
   * (durable once the promise resolves; the step awaits it before sending any later position) and the caller
   * skips it. Undefined when it is to be sent. Throws RESOURCE_EXHAUSTED past the consumer's limit.
   */
  parkIfBlocked(session: ConsumerSession, event: StoredEvent): Promise<void> | undefined {
    const consumer = consumerKey(session.open);
    if (!this.chains.isBlocked(consumer, aggregateKey(event.aggregateType, event.aggregateId))) return undefined;
    const parking = this.chains.park(consumer, [entryOf(consumer, event, "", 0)]);
    this.logger.warn("event parked behind its aggregate's parked events", parkedFields(consumer, event));
    return parking;
  }

  noteSent(session: ConsumerSession, event: StoredEvent): void {
    session.sent.note(event.position, { aggregateType: event.aggregateType, aggregateId: event.aggregateId, eventType: event.type });
  }

  /** The consumer reported the position through which it has processed. */
  progressed(session: ConsumerSession): void {
    session.sent.processedThrough(session.processed);
    this.continueRedrive(consumerKey(session.open));
  }

  activated(session: ConsumerSession): void {
    this.continueRedrive(consumerKey(session.open));
  }

  left(session: ConsumerSession): void {
    const redrive = this.redrives.get(consumerKey(session.open));
    // What was in flight goes again to the next active instance: it is handled once, by its marker checkpoint.
    if (redrive?.inFlight?.session === session) redrive.inFlight = undefined;
  }

  /** A ConsumeFailure: parks (or, for a redriven event, updates) and answers; a failure here fails the stream. */
  failed(session: ConsumerSession, failure: ConsumeFailure): void {
    this.handleFailure(session, failure).catch((thrown: unknown) => {
      if (MeshError.from(thrown).code === status.RESOURCE_EXHAUSTED) {
        this.logger.error("consumer stopped: its parked events are at their limit", { consumer: session.consumer, error: MeshError.from(thrown).message });
      }
      this.sessions.fail(session, thrown);
    });
  }

  /** A redriven event was handled: it leaves the queue, and the next one of its chain goes. */
  redrivenHandled(session: ConsumerSession, position: number): void {
    const consumer = consumerKey(session.open);
    const redrive = this.redrives.get(consumer);
    if (redrive?.inFlight?.position !== position) return;
    redrive.inFlight = undefined;
    this.chains
      .remove(consumer, [position])
      .then((unblocked) => {
        this.logger.info("parked event handled on retry", { consumer, position });
        this.unblocked(consumer, unblocked);
      })
      .catch((thrown: unknown) => this.sessions.fail(session, thrown));
  }

  /** RetryParked: schedules one aggregate's chain, or all of the consumer's. */
  retry(consumer: string, aggregate: string | undefined): { scheduled: number; waitingForInstance: boolean } {
    const chains = this.chains.chainsOf(consumer);
    const keys = aggregate === undefined ? [...chains.keys()] : chains.has(aggregate) ? [aggregate] : [];
    const redrive = this.redriveOf(consumer);
    for (const key of keys) if (!redrive.queue.includes(key)) redrive.queue.push(key);
    const scheduled = keys.reduce((sum, key) => sum + (chains.get(key)?.length ?? 0), 0);
    this.continueRedrive(consumer);
    return { scheduled, waitingForInstance: this.sessions.active(consumer) === undefined };
  }

  /**
   * SkipParked: deletes entries unhandled; an emptied chain unblocks its aggregate. Refused, nothing skipped, when
   * one of them is being retried now: the consumer may apply it any moment, so "skipped" could not be true.
   */
  async skip(consumer: string, positions: readonly number[]): Promise<number> {
    const inFlight = this.redrives.get(consumer)?.inFlight?.position;
    if (inFlight !== undefined && positions.includes(inFlight)) {
      throw new MeshError(
        status.FAILED_PRECONDITION,
        `parked event ${inFlight} of consumer ${consumer} is being retried now: it cannot be skipped until the consumer has answered (handled: it leaves the queue; failed: it stays parked and can be skipped)`,
        Reason.INVALID_REQUEST,
      );
    }
    const held = new Set(this.chains.entriesOf(consumer).map((entry) => entry.position));
    const skipped = positions.filter((position) => held.has(position));
    const unblocked = await this.chains.remove(consumer, skipped);
    for (const position of skipped) this.logger.warn("parked event skipped", { consumer, position });
    this.unblocked(consumer, unblocked);
    return skipped.length;
  }

  /**
   * The projection `consumer` is served at `generation` (its own stream opened, or took over, at it): what its older
   * generations parked is stale. The new generation replayed those events itself, and what it could not handle its
   * rebuild parked under its own key; retrying the old entries would apply them into the new generation's views a
   * second time. They are deleted, durably, with any retry of them.
   */
  dropOlderGenerations(consumer: string, generation: number): void {
    const stale = this.chains.consumerKeys().filter((key) => isOlderGenerationKey(key, consumer, generation));
    if (stale.length === 0) return;
    for (const key of stale) this.redrives.delete(key);
    this.chains.forget(stale).then(
      (count) => this.logger.info("parked events of a projection's older generations deleted: its new generation serves", { consumer, generation, keys: stale, count }),
      // The index forgot them already; the store still holds them: the next start reads them back, and the projection's
      // opening at its generation deletes them then.
      (thrown: unknown) => this.logger.error("could not delete the parked events of a projection's older generations", { consumer, generation, keys: stale, error: String(thrown) }),
    );
  }

  private async handleFailure(session: ConsumerSession, failure: ConsumeFailure): Promise<void> {
    const consumer = consumerKey(session.open);
    const position = Number(failure.position);
    const redrive = this.redrives.get(consumer);
    if (redrive?.inFlight?.position === position && redrive.inFlight.session === session) {
      await this.redriveFailed(session, redrive, failure);
      return;
    }
    const sent = session.sent.get(position);
    if (sent === undefined) {
      throw new MeshError(status.INVALID_ARGUMENT, `consumer ${session.consumer} reported a failure at position ${position}, which this stream did not send or it has processed`, Reason.PROTOCOL_VIOLATION);
    }
    const behind = session.sent.laterOfAggregate(position, sent.aggregateType, sent.aggregateId);
    const now = Date.now();
    const error = this.chains.errorText(failure.error);
    const head: ParkedEntry = { consumer, position, ...sent, error, attempts: failure.attempts, parkedAtMs: now };
    const entries = [head, ...behind.map((later): ParkedEntry => ({ consumer, position: later, ...session.sent.get(later)!, error: "", attempts: 0, parkedAtMs: now }))];
    await this.chains.park(consumer, entries);
    this.logger.warn("event parked: the consumer could not handle it", { consumer, position, aggregateType: sent.aggregateType, aggregateId: sent.aggregateId, eventType: sent.eventType, error, attempts: failure.attempts, waitingBehind: behind });
    await session.write(ConsumeResponse.fromPartial({ skipPositions: entries.map((entry) => String(entry.position)), answeredFailurePosition: String(position) }));
  }

  /** A redriven event failed again: it stays parked (its error and attempts updated), and its chain stays blocked. */
  private async redriveFailed(session: ConsumerSession, redrive: Redrive, failure: ConsumeFailure): Promise<void> {
    const consumer = consumerKey(session.open);
    const position = Number(failure.position);
    const entry = this.chains.entriesOf(consumer).find((held) => held.position === position);
    redrive.inFlight = undefined;
    redrive.queue.shift();
    const error = this.chains.errorText(failure.error);
    await this.chains.recordFailure(consumer, position, error, (entry?.attempts ?? 0) + failure.attempts);
    this.logger.warn("parked event failed again on retry; it stays parked", { consumer, position, error });
    await session.write(ConsumeResponse.fromPartial({ answeredFailurePosition: String(position) }));
    this.continueRedrive(consumer);
  }

  /** Sends the next parked event of the chain being retried, once the consumer's checkpoint has passed it. */
  private continueRedrive(consumer: string): void {
    const redrive = this.redrives.get(consumer);
    const session = this.sessions.active(consumer);
    if (redrive === undefined || redrive.inFlight !== undefined || session === undefined || !session.announced) return;
    while (redrive.queue.length > 0) {
      const aggregate = redrive.queue[0]!;
      const next = this.chains.chain(consumer, aggregate)[0];
      if (next === undefined) {
        redrive.queue.shift();
        continue;
      }
      // Redriven only once normal delivery is past it: a stream reopened from an older checkpoint could otherwise
      // deliver it again, unparked, after its retry.
      if (session.processed < next.position) return;
      redrive.inFlight = { aggregate, position: next.position, session };
      this.send(session, next.position).catch((thrown: unknown) => this.sessions.fail(session, thrown));
      return;
    }
    this.redrives.delete(consumer);
  }

  private async send(session: ConsumerSession, position: number): Promise<void> {
    const [event] = await this.store.readAll(position - 1, 1);
    if (event === undefined || event.position !== position) throw new MeshError(status.INTERNAL, `parked event ${position} is not in the event store`, Reason.INTERNAL);
    this.logger.info("parked event sent again", { consumer: session.consumer, position });
    await session.write(ConsumeResponse.fromPartial({ events: [toEnvelope(event)], redriven: true }));
  }

  private unblocked(consumer: string, aggregates: readonly string[]): void {
    const session = this.sessions.active(consumer);
    if (aggregates.length > 0 && session !== undefined) this.sessions.wake(session);
    this.continueRedrive(consumer);
  }

  private redriveOf(consumer: string): Redrive {
    let redrive = this.redrives.get(consumer);
    if (redrive === undefined) this.redrives.set(consumer, (redrive = { queue: [], inFlight: undefined }));
    return redrive;
  }
}

function entryOf(consumer: string, event: StoredEvent, error: string, attempts: number): ParkedEntry {
  return { consumer, position: event.position, aggregateType: event.aggregateType, aggregateId: event.aggregateId, eventType: event.type, error, attempts, parkedAtMs: Date.now() };
}

function parkedFields(consumer: string, event: StoredEvent): Record<string, unknown> {
  return { consumer, position: event.position, aggregateType: event.aggregateType, aggregateId: event.aggregateId, eventType: event.type };
}
