import { credentials, status, type ClientDuplexStream } from "@grpc/grpc-js";
import {
  HandlerLinkServiceClient,
  type ConnectRequest,
  type ConnectResponse,
  type Dispatch,
  type GatewayFrame,
  type HandlerFrame,
  type Permits,
  type Reply,
  type Subscription,
} from "../../../../gen/recq/v1/link";
import { MeshError, Reason } from "../errors/mesh-error";
import type { Logger } from "../logging/logger";
import { Backoff } from "./backoff";
import { FrameBatcher } from "./frame-batcher";

export const LINK_PROTOCOL_VERSION = 1;

/** Runs one dispatch; calls `reply` once (or, for a streaming query, per answer and then once more to end). */
export type DispatchRunner = (dispatch: Dispatch, metadata: Record<string, string>, reply: (outcome: Reply["outcome"]) => void, signal: AbortSignal) => void;

export interface LinkClientOptions {
  address: string;
  component: string;
  instanceId: string;
  credentials?: string;
  logger: Logger;
  /** Dispatches this process runs at once: the permits it grants. Default 256. */
  maxConcurrent?: number;
  /** Largest link message accepted from the gateway. Default 64 MiB. */
  maxMessageBytes?: number;
}

interface Running {
  controller: AbortController;
  streaming: boolean;
}

/**
 * The handler's end of a link: connects, says hello, subscribes, grants permits and runs dispatches. When the
 * stream breaks it reconnects with backoff and subscribes again to everything, so no subscription is lost.
 */
export class LinkClient {
  private readonly client: HandlerLinkServiceClient;
  private readonly subscriptions = new Map<string, { subscription: Subscription; run: DispatchRunner; streaming: boolean }>();
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

  constructor(private readonly options: LinkClientOptions) {
    this.maxConcurrent = options.maxConcurrent ?? 256;
    const limit = options.maxMessageBytes ?? 64 * 1024 * 1024;
    this.client = new HandlerLinkServiceClient(options.address, credentials.createInsecure(), {
      "grpc.max_receive_message_length": limit,
      "grpc.max_send_message_length": limit,
    });
  }

  /** Registers what this process serves; sent on every (re)connect. `streaming`: a server-streaming query. */
  handle(subscription: Subscription, run: DispatchRunner, streaming = false): void {
    this.subscriptions.set(subscription.method, { subscription, run, streaming });
  }

  /** Connects; resolves once the gateway accepted every subscription, rejects if it rejected any. */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    this.connect();
    return ready;
  }

  get inFlight(): number {
    return this.running.size;
  }

  /**
   * Stops taking new work: unsubscribes (the gateway routes elsewhere), lets dispatches in flight finish for
   * up to `timeoutMs`, then closes.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.send({ metadata: {}, frame: { $case: "unsubscribe", value: { methods: [...this.subscriptions.keys()] } } });
    this.batcher?.flush();
    const until = Date.now() + timeoutMs;
    while (this.running.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    this.close();
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
      sizeOf: handlerFrameSize,
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
          credentials: this.options.credentials ?? "",
          protocolVersion: LINK_PROTOCOL_VERSION,
        },
      },
    });
    if (this.subscriptions.size > 0 && !this.draining) {
      this.send({ metadata: {}, frame: { $case: "subscribe", value: { subscriptions: [...this.subscriptions.values()].map((s) => s.subscription) } } });
    }
    this.send({ metadata: {}, frame: { $case: "permits", value: { count: Math.max(0, this.maxConcurrent - this.running.size) } } });
  }

  private receive(frame: GatewayFrame): void {
    const body = frame.frame;
    switch (body?.$case) {
      case "welcome":
        this.backoff.reset();
        this.startHeartbeat(body.value.heartbeatIntervalMs);
        if (this.subscriptions.size === 0) this.settleReady(undefined);
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
        running?.controller.abort(new MeshError(status.CANCELLED, `cancelled by the gateway: ${body.value.reason}`, body.value.reason));
        return;
      }
      case "heartbeat":
      case undefined:
        return;
    }
  }

  private run(dispatch: Dispatch, metadata: Record<string, string>): void {
    const entry = this.subscriptions.get(dispatch.method);
    const requestId = dispatch.requestId;
    const controller = new AbortController();
    const running: Running = { controller, streaming: false };
    this.running.set(requestId, running);
    let done = false;
    const reply = (outcome: Reply["outcome"]) => {
      if (done || controller.signal.aborted) return;
      const final = outcome?.$case !== "answer" || !running.streaming;
      if (final) {
        done = true;
        this.finish(requestId);
      }
      this.send({ metadata: {}, frame: { $case: "reply", value: { requestId, outcome } } });
      if (final) this.grantPermit();
    };
    controller.signal.addEventListener("abort", () => {
      if (done) return;
      done = true;
      this.finish(requestId);
      this.grantPermit();
    });
    if (entry === undefined) {
      reply({ $case: "failure", value: { code: status.UNIMPLEMENTED, message: `${this.options.component} does not handle ${dispatch.method}`, reason: Reason.NO_HANDLER } });
      return;
    }
    running.streaming = entry.streaming;
    entry.run(dispatch, metadata, reply, controller.signal);
  }

  private finish(requestId: number): void {
    this.running.delete(requestId);
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
    if (this.closed || this.draining) return;
    const delay = this.backoff.next();
    this.options.logger.warn("link lost; reconnecting", { error: meshError.message, code: meshError.code, delayMs: delay });
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectTimer.unref();
  }

  private teardownStream(): void {
    clearInterval(this.heartbeat);
    this.batcher?.flush();
    this.batcher = undefined;
    const stream = this.stream;
    this.stream = undefined;
    // Work in flight on a lost link can no longer be answered: stop it.
    for (const running of this.running.values()) {
      running.controller.abort(new MeshError(status.UNAVAILABLE, "the link to the gateway was lost", Reason.HANDLER_LOST));
    }
    this.running.clear();
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

function handlerFrameSize(frame: HandlerFrame): number {
  if (frame.frame?.$case !== "reply") return 64;
  const outcome = frame.frame.value.outcome;
  switch (outcome?.$case) {
    case "answer":
      return 64 + outcome.value.payload.length;
    case "command":
      return 64 + outcome.value.events.reduce((n, e) => n + 64 + e.payload.length, 0) + (outcome.value.snapshot?.payload.length ?? 0);
    default:
      return 128;
  }
}
