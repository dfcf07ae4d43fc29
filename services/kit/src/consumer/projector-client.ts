import { credentials, type ChannelCredentials, type ChannelOptions, type ClientDuplexStream } from "@grpc/grpc-js";
import { context, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { EventEnvelope } from "@recq-mesh/protocol/gen/recq/v1/event";
import { HandlerLinkServiceClient, type ConsumeRequest, type ConsumeResponse } from "@recq-mesh/protocol/gen/recq/v1/link";
import { MeshError, Backoff, type Logger, Attribute, SpanName, contextWithSpan, extractTraceContext, startMeshSpan } from "@recq-mesh/protocol";
import { decodeEvent } from "../handlers/command-runner";
import type { EventCodecs, ProjectionDefinition } from "../handlers/definitions";
import { LINK_KEEPALIVE } from "../link/link-client";
import { currentToken, type LinkSecurity } from "../link/link-security";

export interface ProjectorClientOptions {
  address: string;
  /** The consumer name the gateway knows this projection by. */
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
}

/**
 * Keeps a projection up to date: opens a consumer stream from the projection's checkpoint, applies each event
 * and commits its view writes with the checkpoint, reports progress and grants permits as it goes. On any
 * failure it reconnects from the checkpoint, so no event is skipped and none is applied twice.
 */
export class ProjectorClient<C extends EventCodecs> {
  private readonly client: HandlerLinkServiceClient;
  private readonly backoff = new Backoff();
  private readonly window: number;
  private stream: ClientDuplexStream<ConsumeRequest, ConsumeResponse> | undefined;
  private work: Promise<void> = Promise.resolve();
  private applied = 0;
  /** The head the gateway named in the first message this projector received: what "caught up" means. */
  private target: number | undefined;
  /** The position through which the view reflects the stream, skipped events included (see `catchUp`). */
  private reflected = 0;
  private readonly caughtUpSignal = new CaughtUpSignal();
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly projection: ProjectionDefinition<C>,
    private readonly options: ProjectorClientOptions,
  ) {
    this.window = options.window ?? 512;
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
   * Where the projection stands against the head the gateway named when the first stream opened (undefined
   * until its opening answer came): `reflected` counts the events of other types the gateway skipped.
   */
  get catchUp(): { reflected: number; head: number | undefined } {
    return { reflected: Math.max(this.reflected, this.applied), head: this.target };
  }

  /** Resolves once the view reflects the stream through the head of the first opening answer. */
  caughtUp(): Promise<void> {
    return this.caughtUpSignal.promise;
  }

  async start(): Promise<void> {
    await this.projection.setup?.(this.projection.store);
    await this.connect();
  }

  /** Finishes the batch in hand, then closes the stream. */
  async drain(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    await this.work;
    this.stream?.end();
    this.client.close();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.applied = await this.projection.store.checkpoint(this.options.consumer);
    const stream = this.client.consume();
    this.stream = stream;
    let standbyLogged = false;
    stream.on("data", (response: ConsumeResponse) => {
      if (response.standby && !standbyLogged) {
        standbyLogged = true;
        this.options.logger.info("projection waits as standby", { consumer: this.options.consumer });
      }
      this.target ??= Number(response.headPosition);
      this.enqueue(stream, response);
    });
    stream.on("error", (error: Error) => this.lost(stream, error));
    stream.on("end", () => this.lost(stream, new Error("the gateway ended the consumer stream")));
    stream.write({
      open: {
        consumer: this.options.consumer,
        eventTypes: Object.keys(this.projection.events),
        afterPosition: String(this.applied),
        instanceId: this.options.instanceId,
        credentials: currentToken(this.options.credentials),
      },
      permits: this.window,
      processedPosition: String(this.applied),
    });
  }

  /** Applies a message's events in order, after those of earlier messages; an event-less one only reports progress. */
  private enqueue(stream: ClientDuplexStream<ConsumeRequest, ConsumeResponse>, response: ConsumeResponse): void {
    const events = response.events;
    this.work = this.work.then(async () => {
      if (stream !== this.stream) return;
      try {
        for (const envelope of events) await this.apply(envelope);
        this.noteReflected(Number(response.reflectedPosition));
        if (events.length === 0) return;
        this.backoff.reset();
        stream.write({ open: undefined, permits: events.length, processedPosition: String(this.applied) });
      } catch (thrown) {
        // The event stays unapplied: reconnect from the checkpoint and try again after a backoff.
        this.options.logger.error("projection failed to apply an event", { consumer: this.options.consumer, error: MeshError.from(thrown).message });
        stream.cancel();
        this.lost(stream, thrown instanceof Error ? thrown : new Error(String(thrown)));
      }
    });
  }

  private async apply(envelope: EventEnvelope): Promise<void> {
    const position = Number(envelope.position);
    if (position <= this.applied) return; // redelivered after a reconnect
    const parent = extractTraceContext(envelope.metadata);
    const span = startMeshSpan(
      SpanName.PROJECTOR_APPLY,
      {
        kind: SpanKind.CONSUMER,
        attributes: { [Attribute.CONSUMER]: this.options.consumer, [Attribute.EVENT_TYPE]: envelope.type, [Attribute.POSITION]: position },
      },
      parent,
    );
    const active = contextWithSpan(span, parent);
    try {
      const event = decodeEvent(this.projection.events, envelope.type, envelope.payload);
      const meta = {
        position,
        aggregateId: envelope.aggregateId,
        sequence: Number(envelope.sequence),
        timeMs: envelope.time?.getTime() ?? 0,
        commandId: envelope.commandId,
      };
      await context.with(active, async () => {
        const writes = await this.projection.apply(event, meta, this.projection.store);
        const write = startMeshSpan(SpanName.VIEW_WRITE, { attributes: { [Attribute.POSITION]: position, "recq.view.writes": writes.length } }, active);
        try {
          await this.projection.store.commit(this.options.consumer, position, writes);
        } finally {
          write.end();
        }
      });
      this.applied = position;
    } catch (thrown) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(thrown) });
      throw thrown;
    } finally {
      span.end();
    }
  }

  private noteReflected(position: number): void {
    this.reflected = Math.max(this.reflected, this.applied, position);
    if (this.target !== undefined && this.reflected >= this.target) this.caughtUpSignal.resolve();
  }

  private lost(stream: ClientDuplexStream<ConsumeRequest, ConsumeResponse>, error: Error): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
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
