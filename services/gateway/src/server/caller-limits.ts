import { constants as http2Constants } from "node:http2";
import { status, type ServerInterceptingCall, type ServerInterceptingCallInterface, type ServerInterceptor } from "@grpc/grpc-js";
import { MeshError, Reason, type Logger } from "@recq-mesh/protocol";
import { callTransport, limitMessages, type CallTransport, type TooLargeHandler } from "./grpc-call-internals";
import { PassThroughCall, type CallStatus } from "./pass-through-call";

export interface CallerLimitOptions {
  /** Largest request message from a caller, refused from its declared length before its body is read. */
  maxRequestBytes: number;
  /** How long a caller's single request may take to arrive whole (message and end of stream) from its headers. */
  maxRequestArrivalMs: number;
  /** Largest message on a handler link or consumer stream. */
  maxLinkMessageBytes: number;
  /** The paths of the link service's methods (handler links, consumer streams): they get the link limit. */
  linkMethodPaths: ReadonlySet<string>;
  /**
   * Streams whose messages each carry one caller request in an envelope (ReplyChannelService.Open), and the limit of
   * such a message: the request limit plus room for the envelope, so that a request over the limit is refused on its
   * own (the stream goes on) rather than ending the stream.
   */
  envelopeStreams?: { paths: ReadonlySet<string>; maxMessageBytes: number };
}

/**
 * The server interceptor that gives callers and handler links their own limits on one port. The server's receive
 * limit is the callers' (`maxRequestBytes`); this raises it to `maxLinkMessageBytes` for the link service's methods.
 * A caller's unary-request call (every domain method, health) also gets:
 * - a request over `maxRequestBytes` refused as soon as its length prefix arrives: RESOURCE_EXHAUSTED,
 *   REQUEST_TOO_LARGE, and the stream reset so the caller stops sending;
 * - an arrival clock from its headers: a request not whole after `maxRequestArrivalMs` is answered
 *   DEADLINE_EXCEEDED and its stream reset, which frees the connection's stream slot. (grpc-js starts nothing
 *   until the request is whole: the gateway's limit for calls without a deadline runs only from then.);
 * - the same reset after any other refusal sent before its request is whole (credentials, admission).
 * Caller methods with a request stream (reflection) keep the server's receive limit and no clock.
 */
export function callerLimitsInterceptor(options: CallerLimitOptions, logger: Logger): ServerInterceptor {
  let warned = false;
  const fallBack = (path: string) => {
    if (warned) return;
    warned = true;
    logger.error("grpc-js's call internals are not as expected: handler links are held to the callers' receive limit, and callers' requests have no arrival clock", { method: path });
  };
  return (method, call) => {
    const transport = callTransport(call);
    if (options.linkMethodPaths.has(method.path)) {
      if (transport) limitMessages(transport, options.maxLinkMessageBytes);
      else fallBack(method.path);
    } else if (options.envelopeStreams?.paths.has(method.path)) {
      if (transport) limitMessages(transport, options.envelopeStreams.maxMessageBytes);
      else fallBack(method.path);
    } else if (!method.requestStream) {
      if (transport) return new ArrivingRequest(call, transport, options).asIntercepted();
      fallBack(method.path);
    }
    // grpc-js uses what an interceptor returns only as a ServerInterceptingCallInterface: handing the call on
    // itself spares a layer per call.
    return call as ServerInterceptingCall;
  };
}

const RESET_CODE = http2Constants.NGHTTP2_NO_ERROR;

/**
 * One caller's unary-request call until its request has arrived whole: the size check and the arrival clock. The
 * clock stops at the request's end (its half-close) or once the stream has closed after a cancel. A status sent before the request
 * is whole is a refusal (an interceptor's: credentials, admission; grpc-js runs the service's handler only after the
 * half-close), and is followed by a reset like the refusals here, so that a refused caller stops sending and its
 * stream slot is free at once. One object per call: what the gateway pays on every routed call.
 */
class ArrivingRequest extends PassThroughCall implements TooLargeHandler {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    next: ServerInterceptingCallInterface,
    private readonly transport: CallTransport,
    private readonly options: CallerLimitOptions,
  ) {
    super(next);
    limitMessages(transport, options.maxRequestBytes, this);
    this.timer = setTimeout(arrivalTimedOut, options.maxRequestArrivalMs, this);
    this.timer.unref();
  }

  messageTooLarge(declaredBytes: number): void {
    const limit = this.options.maxRequestBytes;
    this.refuse(new MeshError(status.RESOURCE_EXHAUSTED, `the request is ${declaredBytes} bytes; the gateway accepts at most ${limit}`, Reason.REQUEST_TOO_LARGE).toStatus());
  }

  timedOut(): void {
    this.timer = undefined;
    const message = `the request had not fully arrived ${this.options.maxRequestArrivalMs} ms after its headers (the gateway's limit)`;
    // If the call was answered already (the caller's own deadline passed), sendStatus does nothing and the reset
    // frees the stream grpc-js left open.
    this.refuse(new MeshError(status.DEADLINE_EXCEEDED, message, Reason.DEADLINE_EXCEEDED).toStatus());
  }

  override onReceiveHalfClose(): void {
    this.stopClock();
    super.onReceiveHalfClose();
  }

  override onCancel(): void {
    // grpc-js reports every status it sent as a cancel too, with the stream perhaps still open (its own deadline
    // answered, the caller still sending, or about to close on the next tick): the clock then runs until the stream
    // closes, and frees it at the limit if the caller keeps it open.
    const stream = this.transport.stream;
    if (stream.closed) this.stopClock();
    else if (this.timer !== undefined) stream.once("close", () => this.stopClock());
    super.onCancel();
  }

  override sendStatus(callStatus: CallStatus): void {
    if (this.timer === undefined) super.sendStatus(callStatus);
    else this.refuse(callStatus);
  }

  // Nothing of the call has been answered before its request is whole, so a refusal is a trailers-only answer, sent
  // at once: resetting the stream right after it loses nothing.
  private refuse(callStatus: CallStatus): void {
    this.stopClock();
    this.next.sendStatus(callStatus);
    // Only a stream its caller left open: one whose request ended is closed by the answer itself.
    const stream = this.transport.stream;
    if (!stream.closed && !stream.state.remoteClose) stream.close(RESET_CODE);
  }

  private stopClock(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function arrivalTimedOut(request: ArrivingRequest): void {
  request.timedOut();
}
