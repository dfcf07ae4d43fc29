import { status } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import type { Call } from "@recq-mesh/protocol/gen/recq/v1/link";
import { MeshError, Reason, extractTraceContext } from "@recq-mesh/protocol";
import type { AdmissionControl } from "../admission/admission-control";
import type { MethodEntry } from "../descriptors/descriptor-catalog";
import { Cancellation } from "../server/cancellation";
import type { HandlerLink } from "./handler-link";
import type { CallerIdentity } from "../security/caller-identity";

/** Runs one call a handler service sent over its link: the gateway's own command or query path. */
export type LinkCallRunner = (call: Call, context: LinkCallContext) => Promise<Buffer>;

/** What a call over a link runs with: its deadline and cancellation, and the calling handler's trace context. */
export interface LinkCallContext {
  signal: Cancellation;
  traceContext: Context;
  /** The calling component, when components have grants: handlers see it as the caller. */
  caller?: CallerIdentity;
  /** Runs once the method is known (and granted): takes the call's admission slot, or throws the refusal. */
  admit?: (method: MethodEntry) => void;
}

export interface LinkCallLimits {
  /** Calls one link may have running; past it a call fails at once with RESOURCE_EXHAUSTED. */
  maxCallsPerLink: number;
  /** Deadline of a call that names none. */
  maxCallMsWithoutDeadline: number;
}

/**
 * The calls one handler service makes through its link (a service of the mesh calling another, with no unary
 * hop): each runs with its own deadline, answers with a CallResult frame, and is cancelled if the link goes.
 *
 * Each call takes a slot of the gateway's admission, as a caller's unary call does, with the link as its caller
 * (its share of the limit, like one connection's): a handler's fan-out adds to the load the gateway sheds, so a
 * saturated gateway answers the call RESOURCE_EXHAUSTED / OVERLOADED at once instead of routing it on to a mesh
 * that refuses its external callers. The slot is given back when the call is answered, whatever the answer.
 */
export class LinkCalls {
  private readonly running = new Map<number, Cancellation>();
  /** The admission caller every call of this link counts against. */
  private readonly admissionCaller: string;

  constructor(
    private readonly link: HandlerLink,
    private readonly run: LinkCallRunner,
    private readonly limits: LinkCallLimits,
    private readonly admission: AdmissionControl,
  ) {
    this.admissionCaller = `link:${link.id}`;
  }

  start(call: Call, metadata: Record<string, string>): void {
    if (this.running.has(call.callId)) {
      return this.answer(call.callId, new MeshError(status.INVALID_ARGUMENT, `call id ${call.callId} is already in flight on this link`, Reason.PROTOCOL_VIOLATION));
    }
    if (this.running.size >= this.limits.maxCallsPerLink) {
      return this.answer(call.callId, new MeshError(status.RESOURCE_EXHAUSTED, `${this.running.size} calls are already running on this link (limit ${this.limits.maxCallsPerLink})`, Reason.QUEUE_FULL));
    }
    // Node timers hold at most 2^31-1 ms (a larger value would fire at once).
    const timeoutMs = Math.min(call.timeoutMs > 0 ? call.timeoutMs : this.limits.maxCallMsWithoutDeadline, 2 ** 31 - 1);
    const deadline = Date.now() + timeoutMs;
    const signal = new Cancellation(deadline);
    const timer = setTimeout(() => signal.abort(new MeshError(status.DEADLINE_EXCEEDED, "the call's deadline passed", Reason.DEADLINE_EXCEEDED)), timeoutMs);
    timer.unref();
    this.running.set(call.callId, signal);
    let admitted = false;
    const admit = () => {
      this.admission.admitCall(this.admissionCaller);
      admitted = true;
    };
    const context = { signal, traceContext: extractTraceContext(metadata), admit };
    // A call that fails before it starts (a bad method, bytes that do not parse) answers like one that fails later.
    Promise.resolve()
      .then(() => this.run(call, context))
      .then(
        (payload) => this.answer(call.callId, payload),
        (thrown: unknown) => this.answer(call.callId, MeshError.from(thrown)),
      )
      .finally(() => {
        clearTimeout(timer);
        if (admitted) this.admission.releaseCall(this.admissionCaller);
        this.running.delete(call.callId);
      });
  }

  /** The link is gone: nobody is left to answer, so stop what it asked for. */
  cancelAll(): void {
    const lost = new MeshError(status.CANCELLED, "the link that made the call closed", Reason.CANCELLED);
    for (const signal of this.running.values()) signal.abort(lost);
    this.running.clear();
  }

  private answer(callId: number, answer: Buffer | MeshError): void {
    // An answer larger than the handler accepts fails alone, instead of breaking the link and every call on it.
    const result =
      answer instanceof Buffer && answer.length + 64 > this.link.maxMessageBytes
        ? new MeshError(status.RESOURCE_EXHAUSTED, `the answer is ${answer.length} bytes; handler ${this.link.component} accepts ${this.link.maxMessageBytes}`, Reason.MESSAGE_TOO_LARGE)
        : answer;
    const outcome =
      result instanceof MeshError
        ? ({ $case: "failure", value: { code: result.code, message: result.message, reason: result.reason } } as const)
        : ({ $case: "payload", value: result } as const);
    this.link.send({ metadata: {}, frame: { $case: "callResult", value: { callId, outcome } } });
  }
}
