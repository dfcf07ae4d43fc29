import { status } from "@grpc/grpc-js";
import type { Dispatch, Reply } from "../../../../gen/recq/v1/link";
import { MeshError, Reason } from "../../../kit/src/errors/mesh-error";
import type { Cancellation } from "../server/cancellation";
import type { Route, MethodRouter } from "./method-router";

export type DispatchBody = Omit<Dispatch, "requestId" | "method">;
export type ReplyOutcome = NonNullable<Reply["outcome"]>;

/** Handles each non-failure reply of one dispatch: settles the call when the reply ends it. */
type ReplyHandler<T> = (outcome: ReplyOutcome, resolve: (value: T) => void, reject: (error: unknown) => void) => void;

/**
 * Sends a call down the link of a handler subscribed to its method and waits for the answer.
 * The call's AbortSignal (deadline or caller gone) cancels it on the handler too.
 */
export class Dispatcher {
  constructor(private readonly router: MethodRouter) {}

  /** The route a call takes now; UNAVAILABLE naming the method when no handler serves it. */
  route(path: string, routingKey: string | undefined): Route {
    const route = this.router.pick(path, routingKey);
    if (route === undefined) {
      throw new MeshError(status.UNAVAILABLE, `no handler is connected for ${path.slice(1)}`, Reason.NO_HANDLER);
    }
    return route;
  }

  /** A unary dispatch: resolves with the handler's one reply; a failure reply rejects with its status. */
  unary(route: Route, path: string, body: DispatchBody, metadata: Record<string, string>, signal: Cancellation): Promise<ReplyOutcome> {
    return this.send<ReplyOutcome>(route, path, body, metadata, signal, false, (outcome, resolve) => resolve(outcome));
  }

  /**
   * A server-streaming dispatch: `onAnswer` for each answer; resolves at the handler's end, rejects on a
   * failure, a lost link or the signal.
   */
  stream(route: Route, path: string, body: DispatchBody, metadata: Record<string, string>, signal: Cancellation, onAnswer: (payload: Buffer) => void): Promise<void> {
    return this.send<void>(route, path, body, metadata, signal, true, (outcome, resolve, reject) => {
      if (outcome.$case === "answer") onAnswer(outcome.value.payload);
      else if (outcome.$case === "end") resolve();
      else reject(new MeshError(status.INTERNAL, "the handler answered a streaming query with a command outcome", Reason.PROTOCOL_VIOLATION));
    });
  }

  private send<T>(
    route: Route,
    path: string,
    body: DispatchBody,
    metadata: Record<string, string>,
    signal: Cancellation,
    streaming: boolean,
    onOutcome: ReplyHandler<T>,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      let requestId = 0;
      const settle = signal.onAbort(() => {
        route.link.cancel(requestId, abortReason(signal));
        reject(signal.reason);
      });
      const done = (value: T) => (settle(), resolve(value));
      const fail = (error: unknown) => {
        settle();
        // Settled early (a reply of the wrong kind on a stream): stop the handler too. A no-op once final.
        route.link.cancel(requestId, Reason.PROTOCOL_VIOLATION);
        reject(error);
      };
      try {
        requestId = route.link.dispatch(path.slice(1), body, metadata, {
          streaming,
          onReply: (reply) => {
            const outcome = reply.outcome;
            if (outcome === undefined) fail(new MeshError(status.INTERNAL, "the handler sent an empty reply", Reason.PROTOCOL_VIOLATION));
            else if (outcome.$case === "failure") fail(failureError(outcome.value));
            else onOutcome(outcome, done, fail);
          },
          onLost: fail,
        });
      } catch (thrown) {
        fail(thrown);
      }
    });
  }
}

/** A failure the handler answered with: its decision about the call, as opposed to a failure on the way. */
export class HandlerFailure extends MeshError {}

function failureError(failure: { code: number; message: string; reason: string }): MeshError {
  const code = failure.code >= 1 && failure.code <= 16 ? (failure.code as status) : status.UNKNOWN;
  return new HandlerFailure(code, failure.message, failure.reason || undefined);
}

function abortReason(signal: Cancellation): string {
  const reason: unknown = signal.reason;
  return reason instanceof MeshError ? reason.reason : "CANCELLED";
}
