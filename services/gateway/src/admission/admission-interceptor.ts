import type { Metadata, ServerInterceptingCall, ServerInterceptingCallInterface, ServerInterceptor, StatusObject } from "@grpc/grpc-js";
import { SpanKind } from "@opentelemetry/api";
import { isTracing, MeshError, recordRpcOutcome, startRpcSpan } from "@recq-mesh/protocol";
import { callerTraceContext } from "../server/caller-trace-context";
import { PassThroughCall, type CallStatus } from "../server/pass-through-call";
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
    // Not admitted: the call itself, as grpc-js uses what an interceptor returns only through its interface.
    if (kind === undefined) return call as ServerInterceptingCall;
    return new AdmittedCall(call, admission, kind, method.path).asIntercepted();
  };
}

/** One admitted call's layer: one object per call, where closures per step would be a dozen. */
class AdmittedCall extends PassThroughCall {
  private held = false;
  /** Kept only while tracing, for the span of a refusal: the caller's trace context is in its headers. */
  private headers: Metadata | undefined = undefined;
  /** The caller (its connection), known once its request has come. */
  private caller = "";

  constructor(
    next: ServerInterceptingCallInterface,
    private readonly admission: AdmissionControl,
    private readonly kind: "call" | "subscription",
    private readonly path: string,
  ) {
    super(next);
  }

  override onReceiveMetadata(metadata: Metadata): void {
    if (isTracing()) this.headers = metadata;
    super.onReceiveMetadata(metadata);
  }

  override onReceiveMessage(message: unknown): void {
    // A message that comes after the cancel must not take a slot: nothing would give it back.
    if (this.cancelled) return;
    // A second request message on a unary-request call (grpc-js answers it UNIMPLEMENTED itself) rides on the slot
    // the first took: taking another would leave one that no status or cancel gives back.
    if (this.held) {
      super.onReceiveMessage(message);
      return;
    }
    try {
      if (this.kind === "subscription") this.admission.admitSubscription();
      else this.admission.admitCall((this.caller = this.next.getPeer()));
    } catch (thrown) {
      const refusal = MeshError.from(thrown);
      if (this.headers !== undefined) traceRefusal(this.path.slice(1), this.headers, refusal);
      this.next.sendStatus(refusal.toStatus() as StatusObject);
      return;
    }
    this.headers = undefined;
    this.held = true;
    super.onReceiveMessage(message);
  }

  override onCancel(): void {
    this.release();
    super.onCancel();
  }

  override sendStatus(status: CallStatus): void {
    this.release();
    super.sendStatus(status);
  }

  private release(): void {
    if (!this.held) return;
    this.held = false;
    if (this.kind === "subscription") this.admission.releaseSubscription();
    else this.admission.releaseCall(this.caller);
  }
}

/** A refused call's server span, as any call's (named after its method, its status code), so dashboards count it. */
function traceRefusal(method: string, headers: Metadata, refusal: MeshError): void {
  const span = startRpcSpan(method, SpanKind.SERVER, callerTraceContext(headers));
  recordRpcOutcome(span, refusal);
  span.end();
}
