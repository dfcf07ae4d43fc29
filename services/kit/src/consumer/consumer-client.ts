import { credentials, status, type ChannelCredentials, type ChannelOptions, type ClientDuplexStream } from "@grpc/grpc-js";
import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import { ConsumeRequest, HandlerLinkServiceClient, type ConsumeResponse } from "@recq-mesh/protocol/gen/recq/v1/link";
import { MeshError, Backoff, Reason, boundedText, type Logger } from "@recq-mesh/protocol";
import { deadEventSettings, type DeadEventSettings } from "./dead-event-settings";
import type { ConsumerEventHandler } from "./event-handler";
import { ParkingAnswers } from "./parking-answers";
import { LINK_KEEPALIVE } from "../link/link-client";
import { currentToken, type LinkSecurity } from "../link/link-security";

export interface ConsumerClientOptions {
  address: string;
  /** The consumer name the gateway knows this consumer (a projection, an observer, a saga) by. */
  consumer: string;
  instanceId: string;
  /** The link token (ConsumerOpen.credentials), or a function read at each connect. */
  credentials?: LinkSecurity["credentials"];
  /** TLS towards the gateway (link-security.ts); default plaintext. */
  channelCredentials?: ChannelCredentials;
  /** More channel options (the TLS server name). */
  channelOptions?: ChannelOptions;
  logger: Logger;
  /** Events granted ahead of processing: the flow-control window. Default 512. */
  window?: number;
  /** In-place retries of an event the handler throws on, before the gateway parks it (dead-event-settings.ts). */
  deadEvents?: Partial<DeadEventSettings>;
  /** The generation of the views the handler writes, read at each connect (ConsumerOpen.generation). Default 1. */
  generation?: () => number;
  /** A stream rebuilding a new generation beside the projection's own (ConsumerOpen.rebuild). */
  rebuild?: boolean;
  /** The gateway asks this (active) instance to rebuild the projection into `generation`. */
  onRebuildRequest?: (generation: number) => void;
  /**
   * The gateway names a generation of the projection above the one this stream opened with (the active instance
   * switched to a rebuilt one): the handler's views follow it, and the stream reopens at it.
   */
  onNewerGeneration?: (generation: number) => void;
}

type ConsumeStream = ClientDuplexStream<ConsumeRequest, ConsumeResponse>;

/** How long a consumer waits for the gateway's answer to a failure report before it reconnects and tries again. */
const PARKING_ANSWER_TIMEOUT_MS = 30_000;

/**
 * Bytes (UTF-8) of a failure report's error text, at most; a longer one is cut between characters and says so. A text of
 * any length (an error quoting a whole document) made a message past the gateway's receive limit
 * (RECQ_MAX_LINK_MESSAGE_BYTES), which fails the whole stream: the event was then retried for ever and never parked. The
 * gateway keeps RECQ_MAX_PARKED_ERROR_BYTES of it (4 KiB by default).
 */
const MAX_REPORTED_ERROR_BYTES = 64 * 1024;

/** Events handled between two progress reports within one message of the gateway. */
const PROGRESS_EVERY_EVENTS = 50;

/**
 * Keeps a consumer (a projection, an observer, a saga) up with the event stream: opens a consumer stream from the
 * handler's checkpoint, hands it each event in order, reports progress and grants permits as it goes. On any
 * failure it reconnects from the checkpoint, so no event is skipped, and none is handled twice by a handler whose
 * checkpoint moves with its work (a projection's view commit).
 */
export class ConsumerClient {
  private readonly client: HandlerLinkServiceClient;
  private readonly backoff = new Backoff();
  private readonly window: number;
  private readonly deadEvents: DeadEventSettings;
  /** The gateway's answers to failure reports: positions to pass, and the wait for the answer. */
  private readonly parking = new ParkingAnswers();
  private stream: ConsumeStream | undefined;
  private work: Promise<void> = Promise.resolve();
  private applied = 0;
  /** The head the gateway named in the first message this projector received: what "caught up" means. */
  private target: number | undefined;
  /** The position through which the view reflects the stream, skipped events included (see `catchUp`). */
  private reflected = 0;
  private readonly caughtUpSignal = new CaughtUpSignal();
  private closed = false;
  /** Set by a drain once its last checkpoint write covered every event handled: nothing is handled after it. */
  private stopped = false;
  /** While paused, events received are not handled (they are redelivered to whoever continues from the checkpoint). */
  private paused = false;
  private openedGeneration = 1;
  private readonly positionWaiters: Array<{ position: number; resolve: () => void }> = [];
  private readonly openedSignal = new CaughtUpSignal();
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly handler: ConsumerEventHandler,
    private readonly options: ConsumerClientOptions,
  ) {
    this.window = options.window ?? 512;
    this.deadEvents = deadEventSettings(options.deadEvents);
    this.client = new HandlerLinkServiceClient(options.address, options.channelCredentials ?? credentials.createInsecure(), {
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
      ...LINK_KEEPALIVE,
      ...options.channelOptions,
    });
  }

  /** The position through which the view reflects the event stream. */
  get position(): number {
    return this.applied;
  }

  /**
   * Where the consumer stands against the head the gateway named when the first stream opened (undefined
   * until its opening answer came): `reflected` counts the events of other types the gateway skipped.
   */
  get catchUp(): { reflected: number; head: number | undefined } {
    return { reflected: Math.max(this.reflected, this.applied), head: this.target };
  }

  /** Resolves once the handler reflects the stream through the head of the first opening answer. */
  caughtUp(): Promise<void> {
    return this.caughtUpSignal.promise;
  }

  /** Resolves once the gateway acknowledged a stream of this client (as active or standby). */
  opened(): Promise<void> {
    return this.openedSignal.promise;
  }

  /** Resolves once the handler reflects the event stream through `position`. */
  reached(position: number): Promise<void> {
    if (this.catchUp.reflected >= position) return Promise.resolve();
    return new Promise<void>((resolve) => this.positionWaiters.push({ position, resolve }));
  }

  /**
   * Finishes the event in hand and handles no more: the stream stays open until `close` (a rebuild's switch). The
   * checkpoint is durable through the last event handled once it resolves.
   */
  async pause(): Promise<void> {
    this.paused = true;
    await this.work;
    await this.handler.flush?.();
  }

  /** Handles events again after a `pause`: the stream reopens from the checkpoint, since it dropped what came meanwhile. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const stream = this.stream;
    if (stream === undefined) return;
    stream.cancel();
    this.lost(stream, new Error("resumed after a pause: reopening from the checkpoint"));
  }

  /** Closes the stream now, without waiting: what was received and not handled is redelivered from the checkpoint. */
  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.stream?.cancel();
    this.client.close();
  }

  async start(): Promise<void> {
    await this.handler.setup?.();
    await this.connect();
  }

  /**
   * Finishes the batch in hand, makes the checkpoint durable through it, then closes the stream (so that a standby
   * taking over, or this consumer's next start, goes on from there).
   */
  async drain(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.parking.lost(new Error("the consumer is draining"));
    // Work may be queued while the checkpoint is written (the stream is open until the end below): wait until a
    // flush has covered all of it, then stop handling, so nothing is handled after the last write.
    for (;;) {
      const work = this.work;
      await work;
      await this.flushCheckpoint();
      if (work === this.work) break;
    }
    this.stopped = true;
    this.stream?.end();
    this.client.close();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.applied = await this.handler.checkpoint();
    this.openedGeneration = this.options.generation?.() ?? 1;
    const stream = this.client.consume();
    this.stream = stream;
    this.parking.reset();
    let standbyLogged = false;
    stream.on("data", (response: ConsumeResponse) => {
      if (response.standby && !standbyLogged) {
        standbyLogged = true;
        this.options.logger.info("consumer waits as standby", { consumer: this.options.consumer });
      }
      // An answer to a failure report is taken at once: the work queue is waiting for it.
      if (response.answeredFailurePosition !== "0") {
        if (stream === this.stream) this.parking.answered(response);
        return;
      }
      this.target ??= Number(response.headPosition);
      this.openedSignal.resolve();
      if (response.currentGeneration > this.openedGeneration && this.options.onNewerGeneration !== undefined) {
        this.options.onNewerGeneration(response.currentGeneration);
        stream.cancel();
        this.lost(stream, new Error(`the projection moved to generation ${response.currentGeneration}`));
        return;
      }
      if (response.rebuildGeneration > 0) this.options.onRebuildRequest?.(response.rebuildGeneration);
      this.enqueue(stream, response);
    });
    stream.on("error", (error: Error) => this.lost(stream, error));
    stream.on("end", () => this.lost(stream, new Error("the gateway ended the consumer stream")));
    stream.write(ConsumeRequest.fromPartial({
      open: {
        consumer: this.options.consumer,
        eventTypes: this.handler.eventTypes,
        afterPosition: String(this.applied),
        instanceId: this.options.instanceId,
        credentials: currentToken(this.options.credentials),
        generation: this.openedGeneration,
        rebuild: this.options.rebuild ?? false,
        rebuildable: this.options.onRebuildRequest !== undefined,
      },
      permits: this.window,
      processedPosition: String(this.applied),
    }));
  }

  /** Applies a message's events in order, after those of earlier messages; an event-less one only reports progress. */
  private enqueue(stream: ConsumeStream, response: ConsumeResponse): void {
    const events = response.events;
    this.work = this.work.then(async () => {
      if (stream !== this.stream || this.paused || this.stopped) return;
      try {
        if (response.redriven) {
          for (const envelope of events) await this.redrive(stream, envelope);
          return;
        }
        let granted = 0;
        // A long message (a rebuild's replay, a catch-up) reports its progress on the way, not only at its end.
        const progress = (handled: number) => {
          if (handled - granted < PROGRESS_EVERY_EVENTS || stream !== this.stream || this.paused) return;
          stream.write(ConsumeRequest.fromPartial({ permits: handled - granted, processedPosition: String(this.applied) }));
          granted = handled;
        };
        await this.applyInOrder(stream, events, response.skipPositions.map(Number), progress);
        this.noteReflected(Number(response.reflectedPosition));
        if (events.length === 0 && response.skipPositions.length === 0) return;
        this.backoff.reset();
        stream.write(ConsumeRequest.fromPartial({ permits: events.length - granted, processedPosition: String(this.applied) }));
      } catch (thrown) {
        // The event stays unapplied: reconnect from the checkpoint and try again after a backoff.
        this.options.logger.error("consumer failed to handle an event", { consumer: this.options.consumer, error: MeshError.from(thrown).message });
        stream.cancel();
        this.lost(stream, thrown instanceof Error ? thrown : new Error(String(thrown)));
      }
    });
  }

  /** The message's events and the parked positions it names, merged in position order. */
  private async applyInOrder(stream: ConsumeStream, events: EventEnvelope[], skips: number[], progress: (handled: number) => void): Promise<void> {
    let next = 0;
    let handled = 0;
    for (const envelope of events) {
      const position = Number(envelope.position);
      while (next < skips.length && skips[next]! < position) await this.pass(skips[next++]!);
      await this.apply(stream, envelope);
      progress(++handled);
    }
    while (next < skips.length) await this.pass(skips[next++]!);
  }

  private async apply(stream: ConsumeStream, envelope: EventEnvelope): Promise<void> {
    const position = Number(envelope.position);
    if (position <= this.applied) return; // redelivered after a reconnect
    if (this.parking.take(position)) return this.pass(position);
    const failure = await this.tryInPlace(() => this.handler.handle(envelope));
    if (failure === undefined) {
      this.applied = position;
      return;
    }
    // Without a way to pass it, the handler cannot have it parked: reconnect and try again, as before the queue.
    // Draining, it stays where it is for the next start.
    if (this.handler.skip === undefined || this.closed) throw failure;
    await this.report(stream, position, failure);
    if (this.parking.take(position)) await this.pass(position);
  }

  /** Moves the checkpoint past a parked event without handling it. */
  private async pass(position: number): Promise<void> {
    if (position <= this.applied) return;
    await this.handler.skip?.(position);
    this.applied = position;
  }

  /** A parked event sent again: handled under its own marker, then acknowledged; one that fails again is reported. */
  private async redrive(stream: ConsumeStream, envelope: EventEnvelope): Promise<void> {
    const handleRedriven = this.handler.handleRedriven?.bind(this.handler);
    const failure =
      handleRedriven === undefined ? new Error("this consumer cannot handle parked events sent again") : await this.tryInPlace(() => handleRedriven(envelope));
    if (failure === undefined) {
      stream.write(ConsumeRequest.fromPartial({ redrivenHandledPosition: envelope.position }));
      return;
    }
    if (this.closed) throw failure;
    await this.report(stream, Number(envelope.position), failure);
  }

  /**
   * Tries the handler until it succeeds or has failed `attempts` times. A failure with UNAVAILABLE (the mesh out of
   * reach: the link down, the gateway restarting, no handler linked for a command it sends), or a call refused by a
   * saturated gateway (RESOURCE_EXHAUSTED, reason OVERLOADED: its admission), is not the event's fault: it is tried
   * again, at the backoff's pace, without counting, so an outage or an overload does not park good events.
   */
  private async tryInPlace(attempt: () => Promise<void>): Promise<Error | undefined> {
    const backoff = new Backoff(this.deadEvents.initialBackoffMs, this.deadEvents.maxBackoffMs);
    for (let tried = 1; ; ) {
      try {
        await attempt();
        return undefined;
      } catch (thrown) {
        const error = thrown instanceof Error ? thrown : new Error(String(thrown));
        const outage = thrown instanceof MeshError && (thrown.code === status.UNAVAILABLE || thrown.reason === Reason.OVERLOADED);
        if ((!outage && tried >= this.deadEvents.attempts) || this.closed) return error;
        this.options.logger.warn("consumer failed to handle an event; trying again", { consumer: this.options.consumer, attempt: tried, outage, error: error.message });
        if (!outage) tried += 1;
        await new Promise((resolve) => setTimeout(resolve, backoff.next()));
      }
    }
  }

  /** Tells the gateway the event could not be handled, and waits for its answer (the event is then parked). */
  private async report(stream: ConsumeStream, position: number, failure: Error): Promise<void> {
    // What was handled before it is durable first: the events the gateway parks with it are passed from there.
    await this.handler.flush?.();
    this.options.logger.error("consumer failed to handle an event", {
      consumer: this.options.consumer,
      position,
      attempts: this.deadEvents.attempts,
      error: failure.message,
    });
    const answer = this.parking.waitFor(position, PARKING_ANSWER_TIMEOUT_MS);
    stream.write(ConsumeRequest.fromPartial({ failure: { position: String(position), error: boundedText(failure.message, MAX_REPORTED_ERROR_BYTES), attempts: this.deadEvents.attempts } }));
    await answer;
  }

  /** A failed write at a stop is logged, not thrown: what it did not cover is redelivered at the next start. */
  private async flushCheckpoint(): Promise<void> {
    try {
      await this.handler.flush?.();
    } catch (thrown) {
      this.options.logger.error("consumer failed to write its checkpoint at a stop", { consumer: this.options.consumer, error: MeshError.from(thrown).message });
    }
  }

  private noteReflected(position: number): void {
    this.reflected = Math.max(this.reflected, this.applied, position);
    if (this.target !== undefined && this.reflected >= this.target) this.caughtUpSignal.resolve();
    for (let index = this.positionWaiters.length - 1; index >= 0; index--) {
      const waiter = this.positionWaiters[index]!;
      if (waiter.position > this.reflected) continue;
      this.positionWaiters.splice(index, 1);
      waiter.resolve();
    }
  }

  private lost(stream: ConsumeStream, error: Error): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
    this.parking.lost(error);
    stream.removeAllListeners("data");
    stream.on("error", () => undefined);
    this.scheduleReconnect(error);
  }

  private scheduleReconnect(error: Error): void {
    if (this.closed) return;
    const delay = this.backoff.next();
    this.options.logger.warn("consumer stream lost; reconnecting", { consumer: this.options.consumer, error: error.message, delayMs: delay });
    // Not unref'd: while the stream is down, this timer is what keeps the process alive to reconnect.
    this.reconnectTimer = setTimeout(() => {
      this.work = this.work
        .then(() => this.connect())
        .catch((thrown: unknown) => this.scheduleReconnect(thrown instanceof Error ? thrown : new Error(String(thrown))));
    }, delay);
  }
}

/** A promise resolved once, from outside. */
class CaughtUpSignal {
  resolve: () => void = () => undefined;
  readonly promise = new Promise<void>((resolve) => (this.resolve = resolve));
}
