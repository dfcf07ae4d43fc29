import { performance } from "node:perf_hooks";
import { status } from "@grpc/grpc-js";
import type { Reply } from "@recq-mesh/protocol/gen/recq/v1/link";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { MethodEntry } from "../descriptors/descriptor-catalog";
import type { DispatchBody, PendingDispatch } from "../links/handler-link";
import type { Cancellation } from "../server/cancellation";
import type { Route, MethodRouter } from "./method-router";

export type { DispatchBody } from "../links/handler-link";
export type ReplyOutcome = NonNullable<Reply["outcome"]>;

/** The messages of an upload after its first, relayed to the handler as it grants permits (uploads/upload-relay.ts). */
export interface RequestSource {
  /** The dispatch is on its way: from now on `send` each message granted, then `end` once the caller half-closed. */
  start(send: (payload: Buffer) => void, end: () => void): void;
  /** The handler is ready for `count` more messages. */
  grant(count: number): void;
  /** The dispatch is over (answered, failed, cancelled): read nothing more. */
  stop(): void;
}

/** Told of each answer of a streaming query; calls `taken` once its caller's connection has taken it. */
export type AnswerSink = (payload: Buffer, taken: () => void) => void;

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
   * An upload: the dispatch carries the first message (`requestStream` set), the source relays the others as the
   * handler grants permits; resolves with the handler's one reply. Not a round trip admission learns from: its
   * length is the upload's.
   */
  upload(route: Route, method: MethodEntry, body: DispatchBody, metadata: Record<string, string>, signal: Cancellation, source: RequestSource): Promise<ReplyOutcome> {
    return new Promise<ReplyOutcome>((resolve, reject) => {
      const inFlight = new InFlight(route, signal, undefined, resolve, reject, ignoreRoundTrip, source);
      inFlight.send(method.name, { ...body, requestStream: true }, metadata);
    });
  }

  /**
   * A server-streaming dispatch: `onAnswer` for each answer; resolves at the handler's end, rejects on a
   * failure, a lost link or the signal.
   */
  stream(route: Route, method: MethodEntry, body: DispatchBody, metadata: Record<string, string>, signal: Cancellation, onAnswer: AnswerSink): Promise<void> {
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
  /** A streaming query with an answer window: each answer its caller has taken lets the handler send one more. */
  private windowed = false;
  /** Made at a streaming query's first answer only: a unary call pays nothing for it. */
  private answerTaken: (() => void) | undefined;

  constructor(
    private readonly route: Route,
    private readonly signal: Cancellation,
    private readonly onAnswer: AnswerSink | undefined,
    private readonly resolve: (outcome: ReplyOutcome) => void,
    private readonly reject: (error: unknown) => void,
    private readonly onRoundTrip: RoundTripObserver,
    private readonly source?: RequestSource,
  ) {
    this.streaming = onAnswer !== undefined;
  }

  send(method: string, body: DispatchBody, metadata: Record<string, string>): void {
    if (this.signal.aborted) return this.reject(this.signal.reason);
    this.signal.addListener(this.onCancel);
    this.method = method;
    this.windowed = (body.answerWindow ?? 0) > 0;
    this.sentAt = performance.now();
    try {
      this.requestId = this.route.link.dispatch(method, body, metadata, this);
    } catch (thrown) {
      this.fail(thrown);
      return;
    }
    const source = this.source;
    if (source === undefined) return;
    const link = this.route.link;
    const requestId = this.requestId;
    source.start(
      (payload) => link.sendRequestChunk(requestId, payload, false),
      () => link.sendRequestChunk(requestId, NO_BYTES, true),
    );
  }

  onRequestPermits(count: number): void {
    if (!this.settled) this.source?.grant(count);
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
    if (outcome.$case === "answer") return this.onAnswer(outcome.value.payload, (this.answerTaken ??= () => this.grantAnswer()));
    if (outcome.$case === "end") return this.succeed(outcome);
    this.fail(new MeshError(status.INTERNAL, "the handler answered a streaming query with a command outcome", Reason.PROTOCOL_VIOLATION));
  }

  private grantAnswer(): void {
    if (!this.settled && this.windowed) this.route.link.grantAnswers(this.requestId, 1);
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
    this.source?.stop();
    this.route.link.cancel(this.requestId, abortReason(this.signal));
    this.reject(this.signal.reason);
  }

  private succeed(outcome: ReplyOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.source?.stop();
    this.signal.removeListener(this.onCancel);
    this.resolve(outcome);
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.source?.stop();
    this.signal.removeListener(this.onCancel);
    // Settled early (a reply of the wrong kind on a stream): stop the handler too. A no-op once final.
    this.route.link.cancel(this.requestId, Reason.PROTOCOL_VIOLATION);
    this.reject(error);
  }
}

function ignoreRoundTrip(): void {}

const NO_BYTES = Buffer.alloc(0);

function failureError(failure: { code: number; message: string; reason: string }): MeshError {
  const code = failure.code >= 1 && failure.code <= 16 ? (failure.code as status) : status.UNKNOWN;
  return new HandlerFailure(code, failure.message, failure.reason || undefined);
}

function abortReason(signal: Cancellation): string {
  const reason: unknown = signal.reason;
  return reason instanceof MeshError ? reason.reason : "CANCELLED";
}
