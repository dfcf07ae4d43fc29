import { status, type Deadline } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import { Cancellation } from "./cancellation";

/** What a signal needs of a server call, unary or streaming. */
interface ServerSurfaceCall {
  getDeadline(): Deadline;
  on(event: "cancelled", listener: () => void): unknown;
  removeListener(event: "cancelled", listener: () => void): unknown;
}

/** How early a caller's own deadline may fire compared with ours (transit and scheduling). */
const DEADLINE_SKEW_MS = 100;

/** Node timers hold at most 2^31-1 ms; a deadline further out than that is left to grpc-js. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The cancellation of a caller's call: everything that ends it early — its deadline passing
 * (DEADLINE_EXCEEDED), or the caller going away (CANCELLED). Its reason is the MeshError to answer with.
 * `cleanup()` once the call is answered.
 */
export class CallSignal extends Cancellation {
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly callerDeadline: number | undefined;

  constructor(
    private readonly call: ServerSurfaceCall,
    maxWithoutDeadlineMs: number | undefined,
  ) {
    const callerDeadline = deadlineOf(call);
    super(callerDeadline ?? 0);
    this.callerDeadline = callerDeadline;
    // A caller's own deadline is grpc-js's to keep: it answers DEADLINE_EXCEEDED and emits 'cancelled', which
    // onCancelled names as the deadline. Only the gateway's limit for calls without one needs a timer here.
    if (callerDeadline === undefined && maxWithoutDeadlineMs !== undefined && maxWithoutDeadlineMs <= MAX_TIMER_MS) {
      this.timer = setTimeout(() => this.expire(maxWithoutDeadlineMs), maxWithoutDeadlineMs);
      this.timer.unref();
    }
    // `on`, not `once` (a wrapper per call): cleanup() removes it either way.
    call.on("cancelled", this.onCancelled);
  }

  cleanup(): void {
    clearTimeout(this.timer);
    this.call.removeListener("cancelled", this.onCancelled);
  }

  // A client cancels the stream when its deadline passes, and grpc-js ends a call whose deadline passed with
  // 'cancelled': name the real cause for the handler. The client's clock started before the request reached
  // us, so its deadline fires a little before ours: a cancel that close to the deadline is the deadline.
  private readonly onCancelled = (): void => {
    const deadline = this.callerDeadline;
    this.abort(
      deadline !== undefined && Date.now() >= deadline - DEADLINE_SKEW_MS
        ? new MeshError(status.DEADLINE_EXCEEDED, "the deadline passed before the handler answered", Reason.DEADLINE_EXCEEDED)
        : new MeshError(status.CANCELLED, "the caller cancelled the call", Reason.CANCELLED),
    );
  };

  private expire(gatewayLimitMs: number): void {
    const message = `the call ran past the gateway's limit of ${gatewayLimitMs} ms for calls without a deadline`;
    this.abort(new MeshError(status.DEADLINE_EXCEEDED, message, Reason.DEADLINE_EXCEEDED));
  }
}

function deadlineOf(call: ServerSurfaceCall): number | undefined {
  const deadline = call.getDeadline();
  if (deadline instanceof Date) return deadline.getTime();
  return Number.isFinite(deadline) ? deadline : undefined;
}
