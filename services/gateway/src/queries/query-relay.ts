import { status } from "@grpc/grpc-js";
import { SpanKind, type Context, type Span } from "@opentelemetry/api";
import { MeshError, Reason, Attribute, frameTraceMetadata, recordRpcOutcome, startRpcSpan } from "@recq-mesh/protocol";
import type { ProjectionPositions } from "../consumers/projection-positions";
import type { MethodEntry } from "../descriptors/descriptor-catalog";
import { checkWellFormed } from "../descriptors/routing-key";
import type { Cancellation } from "../server/cancellation";
import type { AnswerSink, DispatchBody, Dispatcher, ReplyOutcome } from "../routing/dispatcher";
import type { Route } from "../routing/method-router";

export interface QueryCall {
  method: MethodEntry;
  payload: Buffer;
  headers: Record<string, string>;
  /** The position from a CommandAck: answer only once the projection behind the query has reached it. */
  consistencyToken: number | undefined;
  signal: Cancellation;
  traceContext: Context;
}

/** Relays queries to a handler subscribed to the method, unary or server-streaming, with read-your-writes. */
export class QueryRelay {
  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly positions: ProjectionPositions,
    /** Answers a streaming query's handler may send ahead of its caller (RECQ_STREAM_ANSWER_WINDOW; 0: no window). */
    private readonly answerWindow = 0,
  ) {}

  unary(call: QueryCall): Promise<Buffer> {
    return this.routed(call, this.unaryTo);
  }

  /**
   * With `flowControlled`, the handler gets an answer window (`answer_window`) and `onAnswer` must call `taken` once
   * the caller's transport has taken each answer: the handler may then send one more. Without it, the handler sends
   * as it likes and `taken` does nothing: a front end that cannot tell when its caller took an answer leaves it out.
   */
  stream(call: QueryCall, onAnswer: AnswerSink, flowControlled = false): Promise<void> {
    const dispatched = flowControlled ? { ...body(call), answerWindow: this.answerWindow } : body(call);
    return this.routed(call, (route) =>
      this.traced(call, route, (metadata) => this.dispatcher.stream(route, call.method, dispatched, metadata, call.signal, onAnswer)),
    );
  }

  // Plain promises, not async functions: the gateway holds many calls at once, and a suspended async frame per
  // level is memory per call. Refusals (a malformed request, no handler) reject like everything else.
  private routed<T>(call: QueryCall, dispatch: (route: Route, call: QueryCall) => Promise<T>): Promise<T> {
    try {
      checkWellFormed(call.payload);
      const token = call.consistencyToken;
      if (token === undefined) return dispatch(this.dispatcher.route(call.method, undefined), call);
      return this.consistentRoute(call, token).then((route) => dispatch(route, call));
    } catch (thrown) {
      return Promise.reject(thrown);
    }
  }

  private async consistentRoute(call: QueryCall, token: number): Promise<Route> {
    let route = this.dispatcher.route(call.method, undefined);
    // The handler may change while the query waits (it went away, another took over): wait again for the
    // projection behind whichever handler will answer, until it is there or the deadline passes.
    while (this.positions.positionOf(requireProjection(route, call)) < token) {
      await this.positions.waitFor(route.projection, token, call.signal);
      route = this.dispatcher.route(call.method, undefined);
    }
    return route;
  }

  /**
   * A unary query's dispatch on its route: what a gateway holds thousands of at once, so it takes one promise step
   * (the answer and the span together) rather than composing `traced`, and is one function for every call.
   */
  private readonly unaryTo = (route: Route, call: QueryCall): Promise<Buffer> => {
    const span = this.clientSpan(call, route);
    let dispatched: Promise<ReplyOutcome>;
    try {
      dispatched = this.dispatcher.unary(route, call.method, body(call), frameTraceMetadata(span, call.traceContext), call.signal);
    } catch (thrown) {
      dispatched = Promise.reject(thrown);
    }
    return dispatched.then(
      (outcome) => {
        let answer: Buffer;
        try {
          answer = answerOf(outcome, call);
        } catch (thrown) {
          endFailed(span, thrown);
          throw thrown;
        }
        recordRpcOutcome(span);
        span.end();
        return answer;
      },
      (thrown: unknown) => {
        endFailed(span, thrown);
        throw thrown;
      },
    );
  };

  private traced<T>(call: QueryCall, route: Route, work: (metadata: Record<string, string>) => Promise<T>): Promise<T> {
    const span = this.clientSpan(call, route);
    let pending: Promise<T>;
    try {
      pending = work(frameTraceMetadata(span, call.traceContext));
    } catch (thrown) {
      pending = Promise.reject(thrown);
    }
    return pending.then(
      (result) => {
        recordRpcOutcome(span);
        span.end();
        return result;
      },
      (thrown: unknown) => {
        endFailed(span, thrown);
        throw thrown;
      },
    );
  }

  /** The gateway as the handler's client: named after the method it calls, like the caller's call. */
  private clientSpan(call: QueryCall, route: Route): Span {
    return startRpcSpan(call.method.name, SpanKind.CLIENT, call.traceContext, {
      [Attribute.COMPONENT]: route.link.component,
      [Attribute.INSTANCE]: route.link.instanceId,
    });
  }
}

function endFailed(span: Span, thrown: unknown): void {
  recordRpcOutcome(span, MeshError.from(thrown));
  span.end();
}

/** The answer of a unary query's reply; a command outcome there breaks the protocol. */
function answerOf(outcome: ReplyOutcome, call: QueryCall): Buffer {
  if (outcome.$case !== "answer") {
    throw new MeshError(status.INTERNAL, `the handler answered query ${call.method.name} with a ${outcome.$case}`, Reason.PROTOCOL_VIOLATION);
  }
  return outcome.value.payload;
}

/** A token cannot be honoured by a handler that did not say which projection its answers reflect. */
function requireProjection(route: Route, call: QueryCall): string {
  if (route.projection === "") {
    throw new MeshError(
      status.FAILED_PRECONDITION,
      `the handler of ${call.method.name} named no projection, so recq-consistency-token cannot be honoured; send the query without it`,
      Reason.CONSISTENCY_UNAVAILABLE,
    );
  }
  return route.projection;
}

function body(call: QueryCall): DispatchBody {
  return {
    payload: call.payload,
    commandId: "",
    aggregateId: "",
    snapshot: undefined,
    history: [],
    timeoutMs: call.signal.remainingMs(),
    headers: call.headers,
  };
}

/** Parses the `recq-consistency-token` metadata value. */
export function parseConsistencyToken(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d{1,15}$/.test(value)) {
    throw new MeshError(
      status.INVALID_ARGUMENT,
      `recq-consistency-token must be the position of a CommandAck (a non-negative integer), not "${value.slice(0, 40)}"`,
      Reason.INVALID_REQUEST,
    );
  }
  return Number(value);
}
