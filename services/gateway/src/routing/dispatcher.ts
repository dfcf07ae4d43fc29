import { performance } from "node:perf_hooks";
import { status } from "@grpc/grpc-js";
import type { Dispatch, Reply } from "@recq-mesh/protocol/gen/recq/v1/link";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { MethodEntry } from "../descriptors/descriptor-catalog";
import type { PendingDispatch } from "../links/handler-link";
import type { Cancellation } from "../server/cancellation";
import type { Route, MethodRouter } from "./method-router";

export type DispatchBody = Omit<Dispatch, "requestId" | "method">;
export type ReplyOutcome = NonNullable<Reply["outcome"]>;

/** A failure the handler answered with: its decision about the call, as opposed to a failure on the way. */
export class HandlerFailure extends MeshError {}

/** Told how long each unary dispatch took, from sending it to the handler's answer: what admission follows. */
export type RoundTripObserver = (method: string, roundTripMs: number) => void;

/**
 * Sends a call down the link of a handler subscribed to its method and waits for the answer.
 * The call's cancellation (deadline or caller gone) cancels it on the handler too.
 */
export class Dispatcher {
  constructor(
    private readonly router: MethodRouter,
    private readonly onRoundTrip: RoundTripObserver = ignoreRoundTrip,
  ) {}

  /** The route a call takes now; UNAVAILABLE naming the method when no handler serves it. */
  route(method: MethodEntry, routingKey: string | undefined): Route {
    const route = this.router.pick(method.path, routingKey);
    if (route === undefined) {
      throw new MeshError(status.UNAVAILABLE, `no handler is connected for ${method.name}`, Reason.NO_HANDLER);
    }
    return route;
  }

  /** A unary dispatch: resolves with the handler's one reply; a failure reply rejects with its status. */
  unary(route: Route, method: MethodEntry, body: DispatchBody, metadata: Record<string, string>, signal: Cancellation): Promise<ReplyOutcome> {
    return new Promise<ReplyOutcome>((resolve, reject) =>
      new InFlight(route, signal, undefined, resolve, reject, this.onRoundTrip).send(method.name, body, metadata),
    );
  }

  /**
   * A server-streaming dispatch: `onAnswer` for each answer; resolves at the handler's end, rejects on a
   * failure, a lost link or the signal.
   */
  stream(route: Route, method: MethodEntry, body: DispatchBody, metadata: Record<string, string>, signal: Cancellation, onAnswer: (payload: Buffer) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => new InFlight(route, signal, onAnswer, () => resolve(), reject, ignoreRoundTrip).send(method.name, body, metadata));
  }
}

/**
 * One dispatch awaiting its reply: settles its promise once, and takes care that the handler stops when the
 * caller goes. A class, not a handful of closures: a gateway holds thousands of these at once.
 */
class InFlight implements PendingDispatch {
  readonly streaming: boolean;
  private requestId = 0;
  private settled = false;
  private method = "";
  private sentAt = 0;
  private readonly onCancel = (): void => this.cancelled();

  constructor(
    private readonly route: Route,
    private readonly signal: Cancellation,
    private readonly onAnswer: ((payload: Buffer) => void) | undefined,
    private readonly resolve: (outcome: ReplyOutcome) => void,
    private readonly reject: (error: unknown) => void,
    private readonly onRoundTrip: RoundTripObserver,
  ) {
    this.streaming = onAnswer !== undefined;
  }

  send(method: string, body: DispatchBody, metadata: Record<string, string>): void {
    if (this.signal.aborted) return this.reject(this.signal.reason);
    this.signal.addListener(this.onCancel);
    this.method = method;
    this.sentAt = performance.now();
    try {
      this.requestId = this.route.link.dispatch(method, body, metadata, this);
    } catch (thrown) {
      this.fail(thrown);
    }
  }

  onReply(reply: Reply): void {
    const outcome = reply.outcome;
    if (outcome === undefined) return this.fail(new MeshError(status.INTERNAL, "the handler sent an empty reply", Reason.PROTOCOL_VIOLATION));
    if (outcome.$case === "failure") {
      // A refusal is an answer too: the handler decided, and how long it took says how loaded it is.
      this.observeRoundTrip();
      return this.fail(failureError(outcome.value));
    }
    if (this.onAnswer === undefined) {
      this.observeRoundTrip();
      return this.succeed(outcome);
    }
    if (outcome.$case === "answer") return this.onAnswer(outcome.value.payload);
    if (outcome.$case === "end") return this.succeed(outcome);
    this.fail(new MeshError(status.INTERNAL, "the handler answered a streaming query with a command outcome", Reason.PROTOCOL_VIOLATION));
  }

  onLost(error: MeshError): void {
    this.fail(error);
  }

  private observeRoundTrip(): void {
    if (!this.settled && !this.streaming) this.onRoundTrip(this.method, performance.now() - this.sentAt);
  }

  private cancelled(): void {
    if (this.settled) return;
    // A deadline or a caller gone before the answer: the time so far is a round trip's lower bound, and a handler
    // that hangs must still be seen to be slow.
    this.observeRoundTrip();
    this.settled = true;
    this.route.link.cancel(this.requestId, abortReason(this.signal));
    this.reject(this.signal.reason);
  }

  private succeed(outcome: ReplyOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.signal.removeListener(this.onCancel);
    this.resolve(outcome);
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.signal.removeListener(this.onCancel);
    // Settled early (a reply of the wrong kind on a stream): stop the handler too. A no-op once final.
    this.route.link.cancel(this.requestId, Reason.PROTOCOL_VIOLATION);
    this.reject(error);
  }
}

function ignoreRoundTrip(): void {}

function failureError(failure: { code: number; message: string; reason: string }): MeshError {
  const code = failure.code >= 1 && failure.code <= 16 ? (failure.code as status) : status.UNKNOWN;
  return new HandlerFailure(code, failure.message, failure.reason || undefined);
}

function abortReason(signal: Cancellation): string {
  const reason: unknown = signal.reason;
  return reason instanceof MeshError ? reason.reason : "CANCELLED";
}
