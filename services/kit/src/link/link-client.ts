import { credentials, makeGenericClientConstructor, status, type ChannelCredentials, type ChannelOptions, type ClientDuplexStream } from "@grpc/grpc-js";
import {
  HandlerLinkServiceService,
  type HandlerLinkServiceClient,
  type ConnectRequest,
  type ConnectResponse,
  type Dispatch,
  type GatewayFrame,
  HandlerFrame,
  type Permits,
  type Reply,
  type Subscription,
} from "@recq-mesh/protocol/gen/recq/v1/link";
import {
  MeshError,
  Reason,
  type Logger,
  Backoff,
  DEFAULT_MAX_BATCH_BYTES,
  EncodedFrames,
  FrameBatcher,
  frameFieldBytes,
  LINK_PROTOCOL_VERSION,
} from "@recq-mesh/protocol";
import { AnswerWindow } from "./answer-window";
import { DispatchCancellation } from "./dispatch-cancellation";
import { deserializeConnectResponse } from "./lazy-history";
import { currentToken, type LinkSecurity } from "./link-security";
import { RequestChunks } from "./request-chunks";

/**
 * What a streaming dispatch has beyond a unary one: an upload's further messages, a streaming query's answer window.
 * Undefined for unary dispatches (nothing allocated for them).
 */
export interface DispatchStreams {
  /** An upload's messages after the dispatch's payload (Dispatch.request_stream). */
  readonly requestChunks: RequestChunks | undefined;
  /** A streaming query's flow control (Dispatch.answer_window). */
  readonly answers: AnswerWindow | undefined;
}

/**
 * Runs one dispatch; calls `reply` once (or, for a streaming query, per answer and then once more to end).
 * `cancellation.signal` is the handler's `context.signal`, made when first read.
 */
export type DispatchRunner = (
  dispatch: Dispatch,
  metadata: Record<string, string>,
  reply: (outcome: Reply["outcome"]) => void,
  cancellation: { readonly signal: AbortSignal },
  streams?: DispatchStreams,
) => void;

export interface LinkClientOptions {
  address: string;
  component: string;
  instanceId: string;
  /** The link token (Hello.credentials), or a function read at each connect. */
  credentials?: LinkSecurity["credentials"];
  /** TLS towards the gateway (link-security.ts); default plaintext. */
  channelCredentials?: ChannelCredentials;
  logger: Logger;
  /** Dispatches this process runs at once: the permits it grants. Default 256. */
  maxConcurrent?: number;
  /**
   * Largest link message accepted from the gateway, and sent to it (gRPC's send limit, unless `channelOptions` sets
   * `grpc.max_send_message_length`). Default 64 MiB.
   */
  maxMessageBytes?: number;
  /** More grpc-js channel options (TLS-free tuning, a private subchannel pool, …). */
  channelOptions?: ChannelOptions;
  /**
   * Messages of one upload the gateway may send ahead of the handler's reading: what an upload holds here, at most
   * (times the message size, RECQ_MAX_UPLOAD_CHUNK_BYTES at the gateway). Default 4.
   */
  uploadWindow?: number;
}

/** Default of `LinkClientOptions.uploadWindow`. */
export const DEFAULT_UPLOAD_WINDOW = 4;

interface Running {
  cancellation: DispatchCancellation;
  streaming: boolean;
  reply: (outcome: Reply["outcome"]) => void;
  streams: DispatchStreams | undefined;
}

/**
 * Pings on an idle connection, so that a half-open TCP connection (a gateway host gone without a FIN) is
 * noticed in seconds, not at the operating system's timeout. The gateway permits pings this often.
 */
export const LINK_KEEPALIVE = {
  "grpc.keepalive_time_ms": 20_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
  // channelz bookkeeping costs CPU on every message of a long-lived link; nothing here reads it.
  "grpc.enable_channelz": 0,
} as const;

/** The frames this side sends: each sized exactly as it is sent (see EncodedFrames). */
const handlerFrames = new EncodedFrames<HandlerFrame>(HandlerFrame);

/**
 * The generated link client, with the decoder that leaves dispatch histories encoded until read, and the encoder that
 * sends each frame as it was encoded when sized.
 */
const LinkServiceClient = makeGenericClientConstructor(
  {
    ...HandlerLinkServiceService,
    connect: {
      ...HandlerLinkServiceService.connect,
      requestSerialize: (request: ConnectRequest) => handlerFrames.serialize(request.frames),
      responseDeserialize: deserializeConnectResponse,
    },
  },
  "recq.v1.HandlerLinkService",
) as unknown as new (address: string, channelCredentials: ChannelCredentials, options?: ChannelOptions) => HandlerLinkServiceClient;

/**
 * A permits frame in a message, at most (a count of up to 2^32 − 1: tag, length, tag and a five-byte varint). Its
 * count grows after it is sized (permits returned in one turn travel as one frame): it gets this bound, not its size.
 */
const PERMITS_FRAME_MAX_BYTES = frameFieldBytes(8);

/**
 * The handler's end of a link: connects, says hello, subscribes, grants permits and runs dispatches. When the
 * stream breaks it reconnects with backoff and subscribes again to everything, so no subscription is lost.
 */
export class LinkClient {
  private readonly client: HandlerLinkServiceClient;
  private readonly subscriptions = new Map<string, { subscription: Subscription; run: DispatchRunner; streaming: boolean }>();
  /** Registered methods not subscribed yet: their handler is not ready to answer (see `hold`). */
  private readonly held = new Set<string>();
  private readonly running = new Map<number, Running>();
  private readonly backoff = new Backoff();
  private readonly maxConcurrent: number;
  private stream: ClientDuplexStream<ConnectRequest, ConnectResponse> | undefined;
  private batcher: FrameBatcher<HandlerFrame> | undefined;
  /** The permits frame of the batch being gathered: permits returned in one turn travel as one frame. */
  private pendingPermits: Permits | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private lastHeardMs = 0;
  private draining = false;
  private closed = false;
  private readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private readonly maxMessageBytes: number;
  /** gRPC's send limit on this client's channel: a larger message would fail the whole stream. */
  private readonly sendLimitBytes: number;
  /** From Welcome: what the gateway accepts in one message (gRPC's default receive limit until then). */
  private gatewayMaxMessageBytes = 4 * 1024 * 1024;
  private onDrained: (() => void) | undefined;
  private nextCallId = 1;
  /** Calls this service made through the link, awaiting their CallResult. */
  private readonly calls = new Map<number, { resolve: (payload: Buffer) => void; reject: (error: MeshError) => void; timer: NodeJS.Timeout }>();
  private onIdle: (() => void) | undefined;

  constructor(private readonly options: LinkClientOptions) {
    this.maxConcurrent = options.maxConcurrent ?? 256;
    this.maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
    const channelOptions: ChannelOptions = {
      "grpc.max_receive_message_length": this.maxMessageBytes,
      "grpc.max_send_message_length": this.maxMessageBytes,
      ...LINK_KEEPALIVE,
      ...options.channelOptions,
    };
    this.sendLimitBytes = sendLimitOf(channelOptions);
    this.client = new LinkServiceClient(options.address, options.channelCredentials ?? credentials.createInsecure(), channelOptions);
  }

  /** The largest link message this side may send: within its own gRPC send limit and the gateway's receive limit. */
  private get messageLimitBytes(): number {
    return Math.min(this.sendLimitBytes, this.gatewayMaxMessageBytes);
  }

  /** Registers what this process serves; sent on every (re)connect. `streaming`: a server-streaming query. */
  handle(subscription: Subscription, run: DispatchRunner, streaming = false): void {
    this.subscriptions.set(subscription.method, { subscription, run, streaming });
  }

  /**
   * Keeps a registered method off the link until `release`: a query whose views are still being rebuilt is not
   * subscribed, so the gateway routes it elsewhere or answers UNAVAILABLE, never a wrong answer.
   */
  hold(method: string): void {
    this.held.add(method);
  }

  /**
   * Subscribes held methods (on this link, and on every reconnect from now on). Resolves once the gateway
   * answered the subscription; rejects if it rejected any.
   */
  release(methods: readonly string[]): Promise<void> {
    const subscriptions = methods.filter((m) => this.held.delete(m)).flatMap((m) => this.subscriptions.get(m)?.subscription ?? []);
    if (subscriptions.length === 0 || this.closed || this.draining) return Promise.resolve();
    const ready = new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    // Without a stream, the next connect subscribes them with the rest.
    if (this.stream !== undefined) this.send({ metadata: {}, frame: { $case: "subscribe", value: { subscriptions } } });
    return ready;
  }

  /** Connects; resolves once the gateway accepted every subscription not held, rejects if it rejected any. */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    this.connect();
    return ready;
  }

  get inFlight(): number {
    return this.running.size;
  }

  /**
   * Stops taking new work without losing any: asks the gateway to drain the link (it routes nothing new here
   * and answers `drained` once what it already gave is done), ends subscriptions (streaming queries) so their
   * callers can subscribe again elsewhere, finishes the rest — then closes. Bounded by `timeoutMs`.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    const drained = new Promise<void>((resolve) => (this.onDrained = resolve));
    this.send({ metadata: {}, frame: { $case: "drain", value: {} } });
    this.batcher?.flush();
    for (const running of [...this.running.values()]) {
      if (!running.streaming) continue;
      running.reply({ $case: "failure", value: { code: status.UNAVAILABLE, message: "the handler is draining: subscribe again", reason: Reason.HANDLER_DRAINING } });
      running.cancellation.cancel(new MeshError(status.UNAVAILABLE, "the handler is draining", Reason.HANDLER_DRAINING));
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([drained.then(() => this.idle()), timeout]);
    clearTimeout(timer);
    this.close();
  }

  /**
   * Sends a command or unary query to the mesh through this link (no unary hop of its own). Rejects with the
   * call's status; with UNAVAILABLE / HANDLER_LOST if the link breaks meanwhile (the outcome is then unknown,
   * and a retry with the same `recq-command-id` is safe).
   */
  call(method: string, payload: Buffer, options: { headers?: Record<string, string>; timeoutMs?: number; metadata?: Record<string, string> } = {}): Promise<Buffer> {
    if (this.stream === undefined || this.closed) {
      return Promise.reject(new MeshError(status.UNAVAILABLE, "not linked to the gateway", Reason.HANDLER_LOST));
    }
    const callId = this.nextCallId;
    // Always an explicit deadline: the gateway gets the same one this guard waits for.
    const timeoutMs = options.timeoutMs !== undefined && options.timeoutMs > 0 ? options.timeoutMs : 30_000;
    const frame: HandlerFrame = {
      metadata: options.metadata ?? {},
      frame: { $case: "call", value: { callId, method, payload, headers: options.headers ?? {}, timeoutMs } },
    };
    // Sized as sent, headers and trace context included: one too large fails alone, the link and its calls live on.
    const size = handlerFrames.bytesInMessage(frame);
    if (size > this.messageLimitBytes) {
      handlerFrames.forget(frame);
      return Promise.reject(
        new MeshError(status.RESOURCE_EXHAUSTED, `the call of ${method} is ${size} bytes; the link carries ${this.messageLimitBytes} per message`, Reason.MESSAGE_TOO_LARGE),
      );
    }
    this.nextCallId = callId >= 0xffffffff ? 1 : callId + 1;
    return new Promise<Buffer>((resolve, reject) => {
      // The gateway answers DEADLINE_EXCEEDED itself; this only guards against an answer that never comes.
      const timer = setTimeout(() => {
        this.calls.delete(callId);
        reject(new MeshError(status.DEADLINE_EXCEEDED, `no answer from the gateway within ${timeoutMs} ms`, Reason.DEADLINE_EXCEEDED));
      }, timeoutMs + 1_000);
      timer.unref();
      this.calls.set(callId, { resolve, reject, timer });
      this.send(frame);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.teardownStream();
    this.client.close();
  }

  private connect(): void {
    if (this.closed) return;
    const stream = this.client.connect();
    this.stream = stream;
    this.batcher = new FrameBatcher<HandlerFrame>({
      send: (frames) => {
        this.pendingPermits = undefined;
        stream.write({ frames });
      },
      sizeOf: (frame) => (frame.frame?.$case === "permits" ? PERMITS_FRAME_MAX_BYTES : handlerFrames.bytesInMessage(frame)),
      maxBytes: this.batchLimitBytes(),
    });
    this.pendingPermits = undefined;
    this.lastHeardMs = Date.now();
    stream.on("data", (response: ConnectResponse) => {
      this.lastHeardMs = Date.now();
      for (const frame of response.frames) this.receive(frame);
    });
    stream.on("error", (error: Error) => this.lost(stream, error));
    stream.on("end", () => this.lost(stream, new MeshError(status.UNAVAILABLE, "the gateway ended the link", Reason.HANDLER_LOST)));
    this.send({
      metadata: {},
      frame: {
        $case: "hello",
        value: {
          component: this.options.component,
          instanceId: this.options.instanceId,
          credentials: currentToken(this.options.credentials),
          protocolVersion: LINK_PROTOCOL_VERSION,
          maxMessageBytes: this.maxMessageBytes,
        },
      },
    });
    const subscriptions = this.subscribable();
    if (subscriptions.length > 0 && !this.draining) {
      this.send({ metadata: {}, frame: { $case: "subscribe", value: { subscriptions } } });
    }
    this.send({ metadata: {}, frame: { $case: "permits", value: { count: Math.max(0, this.maxConcurrent - this.running.size) } } });
  }

  private receive(frame: GatewayFrame): void {
    const body = frame.frame;
    switch (body?.$case) {
      case "welcome":
        this.backoff.reset();
        if (body.value.maxMessageBytes > 0) this.gatewayMaxMessageBytes = body.value.maxMessageBytes;
        if (this.batcher !== undefined) this.batcher.maxBytes = this.batchLimitBytes();
        this.startHeartbeat(body.value.heartbeatIntervalMs);
        if (this.subscribable().length === 0) this.settleReady(undefined);
        return;
      case "subscribeResult": {
        const rejected = body.value.rejected;
        if (rejected.length > 0) {
          const message = rejected.map((r) => `${r.method}: ${r.reason}`).join("; ");
          this.options.logger.error("the gateway rejected subscriptions", { rejected });
          this.settleReady(new MeshError(status.FAILED_PRECONDITION, `subscriptions rejected: ${message}`, Reason.PROTOCOL_VIOLATION));
        } else {
          this.settleReady(undefined);
        }
        return;
      }
      case "dispatch":
        this.run(body.value, frame.metadata);
        return;
      case "cancel": {
        const running = this.running.get(body.value.requestId);
        running?.cancellation.cancel(new MeshError(status.CANCELLED, `cancelled by the gateway: ${body.value.reason}`, body.value.reason));
        return;
      }
      case "requestChunk":
        this.running.get(body.value.requestId)?.streams?.requestChunks?.push(body.value.payload, body.value.end);
        return;
      case "answerPermits":
        this.running.get(body.value.requestId)?.streams?.answers?.grant(body.value.count);
        return;
      case "drained":
        this.onDrained?.();
        return;
      case "callResult": {
        const pending = this.calls.get(body.value.callId);
        if (pending === undefined) return;
        this.calls.delete(body.value.callId);
        clearTimeout(pending.timer);
        const outcome = body.value.outcome;
        if (outcome?.$case === "payload") pending.resolve(outcome.value);
        else if (outcome?.$case === "failure") pending.reject(new MeshError(outcome.value.code, outcome.value.message, outcome.value.reason));
        else pending.reject(new MeshError(status.INTERNAL, "the gateway sent an empty call result", Reason.PROTOCOL_VIOLATION));
        return;
      }
      case "heartbeat":
      case undefined:
        return;
    }
  }

  private subscribable(): Subscription[] {
    return [...this.subscriptions.values()].filter((s) => !this.held.has(s.subscription.method)).map((s) => s.subscription);
  }

  private run(dispatch: Dispatch, metadata: Record<string, string>): void {
    const entry = this.subscriptions.get(dispatch.method);
    const requestId = dispatch.requestId;
    let done = false;
    const cancellation = new DispatchCancellation(() => {
      running.streams?.requestChunks?.fail(cancellation.reason);
      running.streams?.answers?.close();
      if (done) return;
      done = true;
      this.finish(requestId);
      this.grantPermit();
    });
    const reply = (outcome: Reply["outcome"]) => {
      if (done) return;
      const { frame, tooLarge } = this.replyFrame(requestId, outcome);
      // A refused answer ends its stream: the gateway takes the failure as the stream's last reply.
      const final = outcome?.$case !== "answer" || !running.streaming || tooLarge !== undefined;
      if (final) {
        done = true;
        running.streams?.answers?.close();
        this.finish(requestId);
      }
      this.send(frame);
      if (final) this.grantPermit();
      if (tooLarge !== undefined && running.streaming) running.cancellation.cancel(tooLarge);
    };
    const running: Running = { cancellation, streaming: false, reply, streams: undefined };
    this.running.set(requestId, running);
    if (entry === undefined) {
      reply({ $case: "failure", value: { code: status.UNIMPLEMENTED, message: `${this.options.component} does not handle ${dispatch.method}`, reason: Reason.NO_HANDLER } });
      return;
    }
    running.streaming = entry.streaming;
    if (dispatch.requestStream) running.streams = { requestChunks: this.requestChunks(requestId), answers: undefined };
    else if (entry.streaming) running.streams = { requestChunks: undefined, answers: new AnswerWindow(dispatch.answerWindow) };
    if (this.draining && entry.streaming) {
      // Routed here just before the gateway saw our Drain: send the subscriber elsewhere at once.
      reply({ $case: "failure", value: { code: status.UNAVAILABLE, message: "the handler is draining: subscribe again", reason: Reason.HANDLER_DRAINING } });
      return;
    }
    entry.run(dispatch, metadata, reply, cancellation, running.streams);
  }

  /** An upload's further messages, granted to the gateway `uploadWindow` at a time. */
  private requestChunks(requestId: number): RequestChunks {
    const grant = (count: number) => this.send({ metadata: {}, frame: { $case: "requestPermits", value: { requestId, count } } });
    return new RequestChunks(grant, this.options.uploadWindow ?? DEFAULT_UPLOAD_WINDOW);
  }

  private finish(requestId: number): void {
    this.running.delete(requestId);
    if (this.running.size === 0) this.onIdle?.();
  }

  private idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.onIdle = resolve));
  }

  /**
   * The reply's frame, sized as it is sent: one too large for a link message (the events a command decided, in all; an
   * answer) is a failure of its call alone, instead of a message that breaks the link and every call on it.
   */
  private replyFrame(requestId: number, outcome: Reply["outcome"]): { frame: HandlerFrame; tooLarge: MeshError | undefined } {
    const frame: HandlerFrame = { metadata: {}, frame: { $case: "reply", value: { requestId, outcome } } };
    const size = handlerFrames.bytesInMessage(frame);
    const limit = this.messageLimitBytes;
    if (size <= limit) return { frame, tooLarge: undefined };
    handlerFrames.forget(frame);
    const tooLarge = new MeshError(status.RESOURCE_EXHAUSTED, `the reply is ${size} bytes; the link carries ${limit} per message`, Reason.MESSAGE_TOO_LARGE);
    const failure: Reply["outcome"] = { $case: "failure", value: { code: tooLarge.code, message: tooLarge.message, reason: Reason.MESSAGE_TOO_LARGE } };
    return { frame: { metadata: {}, frame: { $case: "reply", value: { requestId, outcome: failure } } }, tooLarge };
  }

  /** A batch of frames stays within one link message: at most 1 MiB, and what this side may send. */
  private batchLimitBytes(): number {
    return Math.min(DEFAULT_MAX_BATCH_BYTES, this.messageLimitBytes);
  }

  private grantPermit(): void {
    // Also while draining: dispatches the gateway queued on this link before the unsubscribe still run here.
    if (this.pendingPermits !== undefined) {
      this.pendingPermits.count += 1;
      return;
    }
    this.pendingPermits = { count: 1 };
    this.send({ metadata: {}, frame: { $case: "permits", value: this.pendingPermits } });
  }

  private send(frame: HandlerFrame): void {
    this.batcher?.push(frame);
  }

  private startHeartbeat(intervalMs: number): void {
    clearInterval(this.heartbeat);
    const interval = intervalMs > 0 ? intervalMs : 10_000;
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastHeardMs > 3 * interval) {
        this.stream?.cancel();
        return;
      }
      this.send({ metadata: {}, frame: { $case: "heartbeat", value: {} } });
    }, interval);
    this.heartbeat.unref();
  }

  private lost(stream: ClientDuplexStream<ConnectRequest, ConnectResponse>, error: Error): void {
    if (stream !== this.stream) return;
    this.teardownStream();
    const meshError = MeshError.from(error);
    // Credentials and protocol errors do not heal by retrying: fail start() loudly.
    if (meshError.code === status.UNAUTHENTICATED || meshError.code === status.PERMISSION_DENIED || meshError.reason === Reason.PROTOCOL_VIOLATION) {
      this.settleReady(meshError);
    }
    // A link lost while draining has nothing left to drain: the work on it is gone with it.
    if (this.draining) this.onDrained?.();
    if (this.closed || this.draining) return;
    const delay = this.backoff.next();
    this.options.logger.warn("link lost; reconnecting", { error: meshError.message, code: meshError.code, delayMs: delay });
    // Not unref'd: while the link is down, this timer is what keeps a handler process alive to reconnect.
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private teardownStream(): void {
    clearInterval(this.heartbeat);
    this.batcher?.flush();
    this.batcher = undefined;
    const stream = this.stream;
    this.stream = undefined;
    // Work in flight on a lost link can no longer be answered: stop it.
    for (const running of this.running.values()) {
      running.cancellation.cancel(new MeshError(status.UNAVAILABLE, "the link to the gateway was lost", Reason.HANDLER_LOST));
    }
    this.running.clear();
    const lost = new MeshError(status.UNAVAILABLE, "the link to the gateway was lost while the call was in flight; retrying with the same recq-command-id is safe", Reason.HANDLER_LOST);
    for (const pending of this.calls.values()) {
      clearTimeout(pending.timer);
      pending.reject(lost);
    }
    this.calls.clear();
    if (stream) {
      stream.removeAllListeners("data");
      stream.on("error", () => undefined);
      stream.end();
    }
  }

  private settleReady(error: Error | undefined): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
  }
}

/** gRPC's send limit in `options` (-1: none). */
function sendLimitOf(options: ChannelOptions): number {
  const limit = options["grpc.max_send_message_length"];
  return typeof limit === "number" && limit >= 0 ? limit : Number.POSITIVE_INFINITY;
}
