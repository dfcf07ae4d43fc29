import { constants as http2Constants } from "node:http2";
import { status, type ServerInterceptingCall, type ServerInterceptingCallInterface, type ServerInterceptor } from "@grpc/grpc-js";
import { MeshError, Reason, type Logger } from "@recq-mesh/protocol";
import { callTransport, type CallTransport } from "./grpc-call-internals";

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
 *   until the request is whole: the gateway's limit for calls without a deadline runs only from then.)
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
      if (transport) transport.limitMessages(options.maxLinkMessageBytes);
      else fallBack(method.path);
    } else if (options.envelopeStreams?.paths.has(method.path)) {
      if (transport) transport.limitMessages(options.envelopeStreams.maxMessageBytes);
      else fallBack(method.path);
    } else if (!method.requestStream) {
      if (transport) watchRequest(call, transport, options);
      else fallBack(method.path);
    }
    // grpc-js uses what an interceptor returns only as a ServerInterceptingCallInterface: handing the call on
    // itself spares a wrapper (and its closures) per call.
    return call as ServerInterceptingCall;
  };
}

const RESET_CODE = http2Constants.NGHTTP2_NO_ERROR;

/** The size check and the arrival clock of one unary-request call. */
function watchRequest(call: ServerInterceptingCallInterface, transport: CallTransport, options: CallerLimitOptions): void {
  const { stream } = transport;
  // Nothing of the call has been answered before its request is whole (grpc-js runs the handler only then), so
  // each refusal below is a trailers-only answer, sent at once: resetting the stream right after it loses nothing.
  const refuse = (error: MeshError) => {
    call.sendStatus(error.toStatus());
    if (!stream.closed) stream.close(RESET_CODE);
  };
  transport.limitMessages(options.maxRequestBytes, (declaredBytes) =>
    refuse(
      new MeshError(
        status.RESOURCE_EXHAUSTED,
        `the request is ${declaredBytes} bytes; the gateway accepts at most ${options.maxRequestBytes}`,
        Reason.REQUEST_TOO_LARGE,
      ),
    ),
  );
  const timer = setTimeout(() => {
    const message = `the request had not fully arrived ${options.maxRequestArrivalMs} ms after its headers (the gateway's limit)`;
    // If the call was answered already (the caller's own deadline passed), sendStatus does nothing and the reset
    // frees the stream grpc-js left open.
    refuse(new MeshError(status.DEADLINE_EXCEEDED, message, Reason.DEADLINE_EXCEEDED));
  }, options.maxRequestArrivalMs);
  timer.unref();
  // 'end': the caller's END_STREAM was read, after its message; 'close': the stream is gone either way.
  const stop = () => clearTimeout(timer);
  stream.on("end", stop);
  stream.on("close", stop);
}
