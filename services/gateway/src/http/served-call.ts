import { status, type handleServerStreamingCall, type handleUnaryCall, type Metadata } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { HttpServerCall, type AnswerSink, type CallEnding } from "./http-server-call";
import type { ServedMethod } from "./recording-server";

/** What an HTTP call brings to a served method: the request's bytes, the caller's headers, who and until when. */
export interface HttpCallInput {
  request: Buffer;
  metadata: Metadata;
  /** The caller's connection, `http:127.0.0.1:50312`: admission's notion of a caller. */
  peer: string;
  /** When the caller's deadline passes (ms since the epoch), Infinity when it gave none. */
  deadlineMs: number;
  /** Aborted when the caller goes away or its deadline passes. */
  signal: AbortSignal;
}

const NO_SINK: AnswerSink = () => Promise.resolve();

/** Runs a served unary method as a gRPC call runs it; resolves with the answer's bytes and the response headers. */
export function invokeUnary(method: ServedMethod, input: HttpCallInput): Promise<{ answer: Buffer; headers: Metadata }> {
  return new Promise((resolve, reject) => {
    const call = callOf(method, input, NO_SINK);
    const onAbort = () => call.cancel();
    input.signal.addEventListener("abort", onAbort);
    (method.implementation as handleUnaryCall<unknown, unknown>)(call as never, (error, value) => {
      input.signal.removeEventListener("abort", onAbort);
      if (error) reject(MeshError.from(error));
      else resolve({ answer: method.responseSerialize(value), headers: call.responseHeaders });
    });
  });
}

/**
 * Opens a served server-streaming method as a gRPC call opens it: each answer goes to `sink`, which resolves once
 * the caller has taken it. Returns the call; its `ended` says how the stream ended.
 */
export function openStream(method: ServedMethod, input: HttpCallInput, sink: AnswerSink): HttpServerCall {
  const call = callOf(method, input, sink);
  const onAbort = () => call.cancel();
  input.signal.addEventListener("abort", onAbort);
  void call.ended.then(() => input.signal.removeEventListener("abort", onAbort));
  (method.implementation as handleServerStreamingCall<unknown, unknown>)(call as never);
  return call;
}

function callOf(method: ServedMethod, input: HttpCallInput, sink: AnswerSink): HttpServerCall {
  let request: unknown;
  try {
    request = method.requestDeserialize(input.request);
  } catch (thrown) {
    throw new MeshError(status.INVALID_ARGUMENT, `the request does not parse: ${String(thrown)}`, Reason.INVALID_REQUEST);
  }
  return new HttpServerCall(request, input.metadata, input.peer, input.deadlineMs, sink, method.responseSerialize);
}

/** A stream's ending as the error to throw, or undefined when it ended OK. */
export function endingError(ending: CallEnding): MeshError | undefined {
  return ending.code === status.OK ? undefined : MeshError.from(ending);
}
