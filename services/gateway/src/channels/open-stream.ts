import { status, type ServerDuplexStream } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import { OpenRequest, OpenResponse } from "@recq-mesh/protocol/gen/recq/v1/reply_channel";
import type { Any } from "@recq-mesh/protocol/gen/google/protobuf/any";
import { MeshError, Reason, extractTraceContext } from "@recq-mesh/protocol";
import type { AdmissionControl } from "../admission/admission-control";
import type { MethodEntry } from "../descriptors/descriptor-catalog";
import type { CallSignal } from "../server/call-signal";
import type { CallTracker } from "../server/call-tracker";
import { Cancellation } from "../server/cancellation";
import { SubscriptionBacklog, type BacklogLimits } from "../server/subscription-backlog";
import type { UnaryCallRunner } from "../server/unary-call-runner";
import { callerIdentityOf, type CallerIdentity } from "../security/caller-identity";

export interface OpenStreamLimits {
  /** Requests one stream may have running; at the limit the gateway stops reading the stream (RECQ_MAX_CHANNEL_REQUESTS_IN_FLIGHT). */
  maxInFlight: number;
  /** Deadline of a request whose `timeout_ms` is 0. */
  maxCallMsWithoutDeadline: number;
  /** What the caller may leave unread before the stream is ended with RESOURCE_EXHAUSTED. */
  backlog: BacklogLimits;
}

export interface OpenStreamDeps {
  run: UnaryCallRunner;
  admission: AdmissionControl;
  calls: CallTracker;
  limits: OpenStreamLimits;
  /** With callers' permissions configured: throws unless the stream's caller may call the request's method. */
  authorizeRequest?: (caller: CallerIdentity | undefined, method: string) => void;
}

/** One request running on the stream. */
interface Running {
  readonly signal: Cancellation;
  readonly timer: NodeJS.Timeout;
  /** Set once admitted: its method (for the answer's type) and its admission slot, given back when it settles. */
  method: MethodEntry | undefined;
}

const TYPE_URL_PREFIX = "type.googleapis.com/";
/** Node timers hold at most 2^31-1 ms (a larger value would fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const NO_PAYLOAD = Buffer.alloc(0);

/**
 * One ReplyChannelService.Open stream: many commands and unary queries, each run like a unary call of its own
 * (the shared UnaryCallRunner: statuses, dedupe, consistency tokens, span; admission; its own deadline), answered
 * on the stream as each completes, correlated by the caller's id. A bad request fails alone; the stream goes on.
 *
 * Bounds: at most `maxInFlight` requests run at once — at the limit the gateway stops reading the stream, and
 * HTTP/2 flow control holds the caller's further requests on its side (docs/async-flows.md); answers go through a
 * SubscriptionBacklog, so a caller that sends and does not read is ended with RESOURCE_EXHAUSTED.
 *
 * Endings: the caller half-closes → the requests running finish, then the stream ends OK. The caller cancels,
 * its backlog overflows, the gateway shuts down → every running request is cancelled with that reason.
 */
export class OpenStream {
  private readonly running = new Map<string, Running>();
  private readonly backlog: SubscriptionBacklog;
  private readonly caller: string;
  /** Who opened the stream (when callers are authenticated): each request is checked against its method, and carries it. */
  private readonly identity: CallerIdentity | undefined;
  private halfClosed = false;
  private paused = false;
  private ended = false;

  constructor(
    private readonly call: ServerDuplexStream<Buffer, Buffer>,
    private readonly signal: CallSignal,
    private readonly streamContext: Context,
    private readonly deps: OpenStreamDeps,
    private readonly onEnd: () => void,
  ) {
    this.backlog = new SubscriptionBacklog(call, signal, deps.limits.backlog);
    this.caller = call.getPeer();
    this.identity = callerIdentityOf(call.metadata);
  }

  start(): void {
    this.signal.addListener(this.onAborted);
    this.call.on("data", this.onRequest);
    this.call.on("end", this.onHalfClose);
  }

  /** Ends the stream with `error`, cancelling what runs on it. */
  close(error: MeshError): void {
    this.signal.abort(error);
  }

  private readonly onRequest = (bytes: Buffer): void => {
    let request: OpenRequest;
    try {
      request = OpenRequest.decode(bytes);
    } catch (thrown) {
      this.close(new MeshError(status.INVALID_ARGUMENT, `a message on the stream is not a recq.v1.OpenRequest: ${String(thrown)}`, Reason.INVALID_REQUEST));
      return;
    }
    const { id } = request;
    if (id === "") return this.fail(id, new MeshError(status.INVALID_ARGUMENT, "the request has no id: each request needs one, unique among those in flight", Reason.INVALID_REQUEST));
    if (this.running.has(id)) {
      return this.fail(id, new MeshError(status.INVALID_ARGUMENT, `request id ${id} is already in flight on this stream; its first request goes on`, Reason.INVALID_REQUEST));
    }
    this.begin(request);
  };

  private begin(request: OpenRequest): void {
    const { id } = request;
    const timeoutMs = Math.min(request.timeoutMs > 0 ? request.timeoutMs : this.deps.limits.maxCallMsWithoutDeadline, MAX_TIMER_MS);
    const signal = new Cancellation(Date.now() + timeoutMs);
    const expired =
      request.timeoutMs > 0
        ? `the request's deadline (timeout_ms ${request.timeoutMs}) passed before it was answered`
        : `the request ran past the gateway's limit of ${timeoutMs} ms for requests without a deadline`;
    const timer = setTimeout(() => signal.abort(new MeshError(status.DEADLINE_EXCEEDED, expired, Reason.DEADLINE_EXCEEDED)), timeoutMs);
    timer.unref();
    const entry: Running = { signal, timer, method: undefined };
    this.running.set(id, entry);
    this.deps.calls.begin();
    if (this.running.size >= this.deps.limits.maxInFlight) this.pause();
    const traceContext = request.metadata.traceparent ? extractTraceContext(request.metadata) : this.streamContext;
    const admit = (method: MethodEntry) => {
      this.deps.authorizeRequest?.(this.identity, method.name);
      checkPayloadType(request.payload, method);
      this.deps.admission.admitCall(this.caller);
      entry.method = method;
    };
    const payload = request.payload?.value ?? NO_PAYLOAD;
    this.deps
      .run({ method: request.method, payload, headers: request.metadata }, { signal, traceContext, admit, caller: this.identity })
      .then(
        (answer) => this.answer(id, { typeUrl: TYPE_URL_PREFIX + entry.method!.responseType, value: answer }),
        (thrown: unknown) => this.fail(id, MeshError.from(thrown)),
      )
      .finally(() => this.settle(id, entry));
  }

  private settle(id: string, entry: Running): void {
    clearTimeout(entry.timer);
    if (entry.method !== undefined) this.deps.admission.releaseCall(this.caller);
    this.running.delete(id);
    this.deps.calls.end();
    if (this.paused && this.running.size < this.deps.limits.maxInFlight) this.resume();
    this.endIfDone();
  }

  private answer(id: string, answer: Any): void {
    this.write({ id, result: { $case: "answer", value: answer } });
  }

  private fail(id: string, error: MeshError): void {
    this.write({ id, result: { $case: "failure", value: { code: error.code, message: error.message, reason: error.reason } } });
  }

  private write(response: OpenResponse): void {
    const bytes = OpenResponse.encode(response).finish();
    this.backlog.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  // Stopping reading is what holds a fast sender back: grpc-js reads the HTTP/2 stream only as its duplex is read,
  // and the HTTP/2 window it leaves unacknowledged stops the caller's sends (docs/async-flows.md, "Bounds").
  private pause(): void {
    this.paused = true;
    this.call.pause();
  }

  private resume(): void {
    this.paused = false;
    if (!this.signal.aborted) this.call.resume();
  }

  private readonly onHalfClose = (): void => {
    this.halfClosed = true;
    this.endIfDone();
  };

  private endIfDone(): void {
    if (!this.halfClosed || this.running.size > 0 || this.signal.aborted || this.ended) return;
    this.finish();
    this.call.end();
  }

  private readonly onAborted = (): void => {
    for (const entry of this.running.values()) entry.signal.abort(this.signal.reason);
    if (this.ended) return;
    this.finish();
    // A caller that cancelled hears nothing more; grpc-js ignores a status for a call already over.
    this.call.emit("error", MeshError.from(this.signal.reason).toStatus());
  };

  private finish(): void {
    this.ended = true;
    this.signal.cleanup();
    this.call.removeListener("data", this.onRequest);
    this.call.removeListener("end", this.onHalfClose);
    this.onEnd();
  }
}

/** A request's payload must be an Any holding the method's request type. */
function checkPayloadType(payload: Any | undefined, method: MethodEntry): void {
  if (payload === undefined) {
    throw new MeshError(status.INVALID_ARGUMENT, `the request has no payload: ${method.name} takes a ${method.requestType}`, Reason.INVALID_REQUEST);
  }
  const type = payload.typeUrl.slice(payload.typeUrl.lastIndexOf("/") + 1);
  if (type !== method.requestType) {
    throw new MeshError(
      status.INVALID_ARGUMENT,
      `the payload is a ${type || "message of no type"}, but ${method.name} takes a ${method.requestType}`,
      Reason.INVALID_REQUEST,
    );
  }
}
