import { status, type ServerDuplexStream } from "@grpc/grpc-js";
import { GatewayFrame, type ConnectRequest, type ConnectResponse, type Dispatch, type Reply } from "@recq-mesh/protocol/gen/recq/v1/link";
import { MeshError, Reason, FrameBatcher, DEFAULT_MAX_BATCH_BYTES } from "@recq-mesh/protocol";
import { dispatchFrameBytes, forgetEncodedDispatch } from "./event-wire-cache";

/** What the gateway does with the replies to one dispatch. */
export interface PendingDispatch {
  /** A server-streaming query: replies until `end` or `failure`. Otherwise the first reply is the last. */
  readonly streaming: boolean;
  onReply(reply: Reply): void;
  /** The link went away before the final reply. */
  onLost(error: MeshError): void;
  /** An upload's dispatch: the handler is ready for `count` more request messages. */
  onRequestPermits?(count: number): void;
}

/** A dispatch's content; the streaming fields are only set on uploads and windowed streaming queries. */
export type DispatchBody = Omit<Dispatch, "requestId" | "method" | "requestStream" | "answerWindow"> & Partial<Pick<Dispatch, "requestStream" | "answerWindow">>;

interface QueuedDispatch {
  frame: GatewayFrame;
  pending: PendingDispatch;
}

export interface HandlerLinkLimits {
  /** Dispatches waiting for permits on one link; past it a call fails with RESOURCE_EXHAUSTED. */
  maxQueuedDispatches: number;
}

type LinkCall = ServerDuplexStream<ConnectRequest, ConnectResponse>;

/**
 * One connected handler process, as the gateway sees it: the frames it sends down (batched per event-loop
 * turn), the permits it granted, and the dispatches awaiting replies. A dispatch waits in a bounded queue
 * while the handler has granted no permits.
 */
export class HandlerLink {
  component = "";
  instanceId = "";
  permits = 0;
  private handlerMaxMessageBytes = DEFAULT_HANDLER_MAX_MESSAGE_BYTES;
  /** The handler asked to drain: it gets `drained` once nothing is queued or in flight. */
  private draining = false;
  lastSeenMs = Date.now();
  private nextRequestId = 1;
  private readonly inFlight = new Map<number, PendingDispatch>();
  private readonly queued = new Map<number, QueuedDispatch>();
  private readonly batcher: FrameBatcher<GatewayFrame>;
  private closed = false;

  constructor(
    readonly id: string,
    private readonly call: LinkCall,
    private readonly limits: HandlerLinkLimits,
  ) {
    this.batcher = new FrameBatcher<GatewayFrame>({
      send: (frames) => {
        if (!this.closed) this.call.write({ frames });
      },
      sizeOf: gatewayFrameSize,
    });
  }

  /** Largest stream message the gateway sends the handler (its Hello's limit within the gateway's own): a batch of frames too stays within it. */
  get maxMessageBytes(): number {
    return this.handlerMaxMessageBytes;
  }

  set maxMessageBytes(bytes: number) {
    this.handlerMaxMessageBytes = bytes;
    this.batcher.maxBytes = Math.min(DEFAULT_MAX_BATCH_BYTES, bytes);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Calls in flight or queued: the load the router balances. */
  get load(): number {
    return this.inFlight.size + this.queued.size;
  }

  send(frame: GatewayFrame): void {
    if (!this.closed) this.batcher.push(frame);
  }

  /** Sends a dispatch now if a permit allows, else queues it. Returns the request id, for `cancel`. */
  dispatch(method: string, body: DispatchBody, metadata: Record<string, string>, pending: PendingDispatch): number {
    if (this.closed) throw lostError(this);
    const requestId = this.takeRequestId();
    const dispatch: Dispatch = {
      requestId,
      method,
      payload: body.payload,
      commandId: body.commandId,
      aggregateId: body.aggregateId,
      snapshot: body.snapshot,
      history: body.history,
      timeoutMs: body.timeoutMs,
      headers: body.headers,
      requestStream: body.requestStream ?? false,
      answerWindow: body.answerWindow ?? 0,
    };
    const frame: GatewayFrame = { metadata, frame: { $case: "dispatch", value: dispatch } };
    const size = dispatchFrameBytes(frame, dispatch);
    if (size > this.maxMessageBytes) {
      forgetEncodedDispatch(frame, dispatch);
      throw new MeshError(
        status.RESOURCE_EXHAUSTED,
        `the dispatch of ${method} (${size} bytes with its history) exceeds the ${this.maxMessageBytes} bytes a message to handler ${this.component} may have (its limit, or the gateway's RECQ_MAX_LINK_MESSAGE_BYTES)`,
        Reason.MESSAGE_TOO_LARGE,
      );
    }
    if (this.permits > 0) {
      this.sendDispatch(requestId, frame, pending);
    } else if (this.queued.size < this.limits.maxQueuedDispatches) {
      this.queued.set(requestId, { frame, pending });
    } else {
      throw new MeshError(
        status.RESOURCE_EXHAUSTED,
        `handler ${this.component}/${this.instanceId} has no permits and ${this.queued.size} calls queued (limit ${this.limits.maxQueuedDispatches})`,
        Reason.NO_PERMITS,
      );
    }
    return requestId;
  }

  /** The caller went away: drop a queued dispatch, or tell the handler to stop one in flight. */
  cancel(requestId: number, reason: string): void {
    if (this.queued.delete(requestId)) return this.checkDrained();
    if (!this.inFlight.delete(requestId)) return;
    this.send({ metadata: {}, frame: { $case: "cancel", value: { requestId, reason } } });
    this.checkDrained();
  }

  /** The handler is stopping: once what it was given is done, tell it so. Its routes are already gone. */
  drain(): void {
    this.draining = true;
    this.checkDrained();
  }

  grantPermits(count: number): void {
    this.permits += count;
    for (const [requestId, queued] of this.queued) {
      if (this.permits === 0) break;
      this.queued.delete(requestId);
      this.sendDispatch(requestId, queued.frame, queued.pending);
    }
  }

  /** The handler granted more request messages of an upload; a grant for a dispatch that is over changes nothing. */
  receiveRequestPermits(requestId: number, count: number): void {
    this.inFlight.get(requestId)?.onRequestPermits?.(count);
  }

  /** The next message of an upload in flight (or its end): sent only under the handler's grant. */
  sendRequestChunk(requestId: number, payload: Buffer, end: boolean): void {
    if (!this.inFlight.has(requestId)) return;
    this.send({ metadata: {}, frame: { $case: "requestChunk", value: { requestId, payload, end } } });
  }

  /** The caller of a streaming query took `count` answers: the handler may send that many more. */
  grantAnswers(requestId: number, count: number): void {
    if (!this.inFlight.has(requestId)) return;
    this.send({ metadata: {}, frame: { $case: "answerPermits", value: { requestId, count } } });
  }

  receiveReply(reply: Reply): void {
    const pending = this.inFlight.get(reply.requestId);
    if (pending === undefined) return; // cancelled or timed out already: a late reply changes nothing
    const outcome = reply.outcome?.$case;
    const final = !pending.streaming || outcome === "end" || outcome === "failure" || outcome === undefined;
    if (final) this.inFlight.delete(reply.requestId);
    pending.onReply(reply);
    if (final) this.checkDrained();
  }

  /** Ends the link: every call waiting on it learns it is lost. */
  close(error: MeshError = lostError(this)): void {
    if (this.closed) return;
    this.closed = true;
    this.batcher.discard();
    const waiting = [...this.inFlight.values(), ...[...this.queued.values()].map((q) => q.pending)];
    this.inFlight.clear();
    this.queued.clear();
    for (const pending of waiting) pending.onLost(error);
  }

  /**
   * Ends the stream with a status (protocol violation, credentials, shutdown). The calls on the link learn only
   * that it was lost (safe to retry): the reason is the handler's, not theirs.
   */
  endWith(error: MeshError, forCalls: MeshError = lostError(this)): void {
    this.batcher.flush();
    this.close(forCalls);
    this.call.emit("error", { ...error.toStatus() });
  }

  private checkDrained(): void {
    if (!this.draining || this.closed || this.inFlight.size > 0 || this.queued.size > 0) return;
    this.draining = false;
    this.send({ metadata: {}, frame: { $case: "drained", value: {} } });
  }

  private sendDispatch(requestId: number, frame: GatewayFrame, pending: PendingDispatch): void {
    this.permits -= 1;
    this.inFlight.set(requestId, pending);
    this.batcher.push(frame);
  }

  private takeRequestId(): number {
    const id = this.nextRequestId;
    // uint32 on the wire; ids only need to be unique among the calls in flight.
    this.nextRequestId = id >= 0xffffffff ? 1 : id + 1;
    return id;
  }
}

/** gRPC's default receive limit, assumed for a handler that did not say. */
export const DEFAULT_HANDLER_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

function lostError(link: HandlerLink): MeshError {
  return new MeshError(
    status.UNAVAILABLE,
    `handler ${link.component}/${link.instanceId} was lost while the call was in flight; the outcome is unknown, and retrying with the same recq-command-id is safe`,
    Reason.HANDLER_LOST,
  );
}

/**
 * An upper bound of the bytes a frame takes in a link message (tag, length and frame), to keep a batch within the
 * handler's limit: a dispatch exactly (as encoded for the message), the rest with room for their small fields.
 */
function gatewayFrameSize(frame: GatewayFrame): number {
  const body = frame.frame;
  if (body?.$case === "dispatch") return dispatchFrameBytes(frame, body.value);
  if (body?.$case === "requestChunk") return SMALL_FIELDS_BYTES + body.value.payload.length;
  if (body?.$case === "callResult" && body.value.outcome?.$case === "payload") return SMALL_FIELDS_BYTES + body.value.outcome.value.length;
  // The others are rare (greetings, cancels, failures, heartbeats), some hold text of any length: measured as encoded,
  // with the longest tag and length prefix a frame can have in a message.
  return 6 + GatewayFrame.encode(frame).finish().length;
}

/** Request ids, flags, tags and length prefixes of a frame with one payload and no metadata: 26 bytes at most. */
const SMALL_FIELDS_BYTES = 64;
