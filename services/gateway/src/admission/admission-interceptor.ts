import { ServerInterceptingCall, type Metadata, type ServerInterceptor, type StatusObject } from "@grpc/grpc-js";
import { SpanKind } from "@opentelemetry/api";
import { isTracing, MeshError, recordRpcOutcome, startRpcSpan } from "@recq-mesh/protocol";
import { callerTraceContext } from "../server/caller-trace-context";
import type { AdmissionControl } from "./admission-control";

/** What admission needs to know of a path: a unary call, a subscription, or none of its business. */
export type AdmissionKind = "call" | "subscription" | undefined;

/**
 * Admission where grpc-js lets it be decided cheaply: a server interceptor that takes a slot once a call's request
 * has arrived whole — before its handler runs or anything is allocated for it. Not on the headers: a request that
 * arrives slowly (or never: the caller limits' arrival clock ends it) would hold a slot meanwhile, and a few
 * thousand stalled streams would get every honest caller refused. A refusal there costs the gateway about two
 * thirds of what the same refusal costs from the handler (about 50 against 72 µs of CPU, measured with ghz at 5,000
 * refusals/s: 47 µs refused on the headers, a few more once a small request has arrived) — what decides how much
 * overload a one-threaded gateway can shed. An admitted call gives its slot
 * back when its status is sent or it is cancelled, whichever comes first; grpc-js reports a status it sends
 * itself (a deadline, a reset, the caller limits' refusals) as a cancel.
 */
export function admissionInterceptor(admission: AdmissionControl, kindOf: (path: string) => AdmissionKind): ServerInterceptor {
  return (method, call) => {
    const kind = kindOf(method.path);
    if (kind === undefined) return new ServerInterceptingCall(call);
    const caller = call.getPeer();
    let held = false;
    // Kept only while tracing, for the span of a refusal: the caller's trace context is in its headers.
    let headers: Metadata | undefined;
    const release = () => {
      if (!held) return;
      held = false;
      if (kind === "subscription") admission.releaseSubscription();
      else admission.releaseCall(caller);
    };
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata: Metadata, pass: (metadata: Metadata) => void) => {
            if (isTracing()) headers = metadata;
            pass(metadata);
          },
          onReceiveMessage: (message: unknown, pass: (message: unknown) => void) => {
            try {
              if (kind === "subscription") admission.admitSubscription();
              else admission.admitCall(caller);
            } catch (thrown) {
              const refusal = MeshError.from(thrown);
              if (headers !== undefined) traceRefusal(method.path.slice(1), headers, refusal);
              call.sendStatus(refusal.toStatus() as StatusObject);
              return;
            }
            headers = undefined;
            held = true;
            pass(message);
          },
          onCancel: release,
        }),
      sendStatus: (status, pass) => {
        release();
        pass(status);
      },
    });
  };
}

/** A refused call's server span, as any call's (named after its method, its status code), so dashboards count it. */
function traceRefusal(method: string, headers: Metadata, refusal: MeshError): void {
  const span = startRpcSpan(method, SpanKind.SERVER, callerTraceContext(headers));
  recordRpcOutcome(span, refusal);
  span.end();
}
