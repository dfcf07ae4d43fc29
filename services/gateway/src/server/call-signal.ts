import { status, type ServerUnaryCall } from "@grpc/grpc-js";

/** What a signal needs of a server call, unary or streaming. */
type ServerSurfaceCall = Pick<ServerUnaryCall<unknown, unknown>, "getDeadline" | "once" | "removeListener">;
import { MeshError, Reason } from "../../../kit/src/errors/mesh-error";
import { Cancellation } from "./cancellation";

export interface CallSignal {
  signal: Cancellation;
  /** Milliseconds left until the deadline, 0 when the call has none. */
  remainingMs(): number;
  /** Clears the deadline timer and the listener. Call once the call is answered. */
  cleanup(): void;
}

/**
 * One cancellation per call for everything that ends it early: its deadline passing (DEADLINE_EXCEEDED) or the
 * caller going away (CANCELLED). The signal's reason is the MeshError to answer with.
 */
export function callSignal(call: ServerSurfaceCall, maxWithoutDeadlineMs: number | undefined): CallSignal {
  const controller = new Cancellation();
  const deadline = deadlineMs(call);
  const effectiveDeadline = deadline ?? (maxWithoutDeadlineMs === undefined ? undefined : Date.now() + maxWithoutDeadlineMs);
  const timer = effectiveDeadline === undefined ? undefined : deadlineTimer(controller, effectiveDeadline, deadline === undefined ? maxWithoutDeadlineMs : undefined);
  // A client cancels the stream when its deadline passes, and grpc-js ends a call whose deadline passed with
  // 'cancelled': name the real cause for the handler. The client's clock started before the request reached
  // us, so its deadline fires a little before ours: a cancel that close to the deadline is the deadline.
  const onCancelled = () =>
    controller.abort(
      deadline !== undefined && Date.now() >= deadline - DEADLINE_SKEW_MS
        ? new MeshError(status.DEADLINE_EXCEEDED, "the deadline passed before the handler answered", Reason.DEADLINE_EXCEEDED)
        : new MeshError(status.CANCELLED, "the caller cancelled the call", Reason.CANCELLED),
    );
  call.once("cancelled", onCancelled);
  return {
    signal: controller,
    remainingMs: () => (deadline === undefined ? 0 : Math.max(1, deadline - Date.now())),
    cleanup: () => {
      clearTimeout(timer);
      call.removeListener("cancelled", onCancelled);
    },
  };
}

/** How early a caller's own deadline may fire compared with ours (transit and scheduling). */
const DEADLINE_SKEW_MS = 100;

/** Node timers hold at most 2^31-1 ms; a deadline further out than that is left to grpc-js. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function deadlineTimer(controller: Cancellation, at: number, gatewayLimitMs: number | undefined): NodeJS.Timeout | undefined {
  const delay = Math.max(0, at - Date.now());
  if (delay > MAX_TIMER_MS) return undefined;
  const timer = setTimeout(() => {
    const message =
      gatewayLimitMs === undefined
        ? "the deadline passed before the handler answered"
        : `the call ran past the gateway's limit of ${gatewayLimitMs} ms for calls without a deadline`;
    controller.abort(new MeshError(status.DEADLINE_EXCEEDED, message, Reason.DEADLINE_EXCEEDED));
  }, delay);
  timer.unref();
  return timer;
}

function deadlineMs(call: ServerSurfaceCall): number | undefined {
  const deadline = call.getDeadline();
  if (deadline instanceof Date) return deadline.getTime();
  return Number.isFinite(deadline) ? deadline : undefined;
}
