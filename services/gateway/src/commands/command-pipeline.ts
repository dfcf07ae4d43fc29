import { randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Context } from "@opentelemetry/api";
import { CommandAck } from "@recq-mesh/protocol/gen/recq/v1/command";
import type { CommandOutcome as HandlerOutcome } from "@recq-mesh/protocol/gen/recq/v1/link";
import {
  MeshError,
  Reason,
  Attribute,
  MAX_COMMAND_ID_LENGTH,
  SpanName,
  isReservedCommandId,
  frameTraceMetadata,
  injectTraceContext,
  recordRpcOutcome,
  startMeshSpan,
  startRpcSpan,
  type Logger,
} from "@recq-mesh/protocol";
import type { MethodEntry } from "../descriptors/descriptor-catalog";
import { checkWellFormed, readRoutingKey } from "../descriptors/routing-key";
import type { HandlerEventCheck } from "./handler-event-check";
import { Cancellation } from "../server/cancellation";
import { HandlerFailure, type Dispatcher, type RequestSource } from "../routing/dispatcher";
import { AppendRejectedError, type CommandOutcome, type EventStore } from "../store/event-store";
import { AggregateCache, aggregateKey, type CachedAggregate } from "./aggregate-cache";
import { KeyedQueue } from "./keyed-queue";
import { appendStreamOf, isServiceStream } from "./service-stream";

export interface CommandPipelineOptions {
  /** Redispatches after an append conflict before the caller gets ABORTED. */
  maxConflictRetries: number;
  maxQueuedPerAggregate: number;
  maxQueuedCommands: number;
  aggregateCacheSize: number;
  /** Bytes of a routing key at the most: an aggregate id is an id, and it travels in keys, logs and messages. */
  maxRoutingKeyBytes: number;
  /** Refuses events that are not messages of their type, before anything is stored. */
  eventCheck: HandlerEventCheck;
}

export interface CommandCall {
  method: MethodEntry;
  /** The command service's `(recq.v1.aggregate_type)`. */
  aggregateType: string;
  payload: Buffer;
  commandId: string | undefined;
  headers: Record<string, string>;
  signal: Cancellation;
  /** Trace context of the gateway's server span of the call. */
  traceContext: Context;
  /** An upload's messages after `payload` (its first), relayed to the handler under its grants. */
  requestSource?: RequestSource;
  /** Sent by a component over its link: it may use the components' reserved command ids (`recq:…`). */
  fromComponent?: boolean;
}

/**
 * Told when an execution of a watched command id starts and when it settles (outcomes/). Asked first whether the
 * id is watched, so a command nobody watches costs one lookup and no allocation.
 */
export interface ExecutionObserver {
  isWatched(commandId: string): boolean;
  /** Something changed for `commandId`: it started running, or it settled (its outcome, if any, is recorded). */
  changed(commandId: string): void;
}

/** Handler failures that are decisions about the command, recorded so that a repeat gets the same answer. */
const recordedFailureCodes = new Set<number>([
  status.INVALID_ARGUMENT,
  status.FAILED_PRECONDITION,
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.OUT_OF_RANGE,
  status.PERMISSION_DENIED,
]);

/**
 * The path of a command through the gateway: routing key → dedupe by command id → per-aggregate queue →
 * history → dispatch → append with the expected sequence (conflict: reload and redispatch, bounded) → ack.
 * A command without a routing key (a service's) gets no history; its events, if any, are a stream of their own
 * named by the command id (service-stream.ts).
 */
/** One execution of a command id, shared by every caller that sent that id while it runs. */
interface Execution {
  result: Promise<Buffer>;
  /** The command's full method name, for whoever asks what is running. */
  method: string;
  /** Aborted when the last caller waiting for it has gone: only then is the handler told to stop. */
  cancellation: Cancellation;
  callers: number;
}

export class CommandPipeline {
  private readonly queue: KeyedQueue;
  private readonly cache: AggregateCache;
  /** Commands being executed now, by id: a repeat arriving meanwhile joins the same execution. */
  private readonly running = new Map<string, Execution>();
  private observer: ExecutionObserver | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly dispatcher: Dispatcher,
    private readonly options: CommandPipelineOptions,
    private readonly logger: Logger,
  ) {
    this.queue = new KeyedQueue({ maxPerKey: options.maxQueuedPerAggregate, maxTotal: options.maxQueuedCommands });
    this.cache = new AggregateCache(store, options.aggregateCacheSize);
  }

  /** The one observer of executions (the outcome watchers). */
  observe(observer: ExecutionObserver): void {
    this.observer = observer;
  }

  /** The method of the execution of `commandId` running (or queued behind its aggregate) now, if one is. */
  runningMethod(commandId: string): string | undefined {
    return this.running.get(commandId)?.method;
  }

  /**
   * What can be checked of a command before it runs — its routing key (present, within its limit), its command
   * id (its length; not a reserved one: only components send those, over their links), a well-formed payload — as
   * `execute` checks a caller's command; returns the routing key ("" without one). Throws the MeshError the caller gets.
   */
  check(method: MethodEntry, payload: Buffer, commandId: string | undefined): string {
    const aggregateId = this.routingKeyOf(method, payload);
    checkCommandId(commandId, false);
    return aggregateId;
  }

  /** Resolves with the encoded CommandAck, or rejects with a MeshError. */
  execute(call: CommandCall): Promise<Buffer> {
    const aggregateId = this.routingKeyOf(call.method, call.payload);
    const commandId = checkCommandId(call.commandId, call.fromComponent === true) ?? randomUUID();
    const running = this.running.get(commandId);
    // An execution every caller already left is being abandoned: a retry must not inherit its cancellation, so
    // it gets an execution of its own, after the abandoned one (which may yet have recorded an outcome).
    const execution = running !== undefined && !running.cancellation.aborted ? running : this.start(call, commandId, aggregateId, running?.result);
    return this.join(execution, call.signal);
  }

  /**
   * An upload (a client-streaming command): `call.payload` is its first message, which carries the routing key;
   * `source` relays the others once the command's turn in its aggregate's queue has come and the handler grants
   * them. One execution per command id, as for every command, but a running upload cannot be joined (its content
   * streams once): a second upload with the same id while the first runs is refused with ABORTED. A repeat of one
   * that finished gets its recorded outcome without its content being read.
   */
  executeUpload(call: CommandCall, source: RequestSource): Promise<Buffer> {
    const aggregateId = this.routingKeyOf(call.method, call.payload);
    const commandId = checkCommandId(call.commandId, call.fromComponent === true) ?? randomUUID();
    const running = this.running.get(commandId);
    if (running !== undefined) {
      throw new MeshError(status.ABORTED, `an upload with command id ${commandId} is running already; send it again once that one has ended`, Reason.AGGREGATE_CONFLICT);
    }
    return this.join(this.start({ ...call, requestSource: source }, commandId, aggregateId, undefined), call.signal);
  }

  private routingKeyOf(method: MethodEntry, payload: Buffer): string {
    const key = method.routingKey;
    if (key === undefined) {
      checkWellFormed(payload);
      return "";
    }
    const value = readRoutingKey(payload, key.fieldNumber);
    if (value === "") {
      throw new MeshError(
        status.INVALID_ARGUMENT,
        `${method.requestType}.${key.fieldName} is required: it is the routing key of ${method.name}`,
        Reason.INVALID_REQUEST,
      );
    }
    const bytes = Buffer.byteLength(value);
    if (bytes > this.options.maxRoutingKeyBytes) {
      throw new MeshError(
        status.INVALID_ARGUMENT,
        `${method.requestType}.${key.fieldName} is ${bytes} bytes: a routing key is at most ${this.options.maxRoutingKeyBytes} (RECQ_MAX_ROUTING_KEY_BYTES)`,
        Reason.INVALID_REQUEST,
      );
    }
    return value;
  }

  /**
   * Queues the command behind the others of its aggregate at once, in arrival order (commands without a
   * routing key need no ordering). Refused synchronously when the queue is full; leaves the queue as soon as
   * every caller waiting for it has gone.
   */
  private start(call: CommandCall, commandId: string, aggregateId: string, after: Promise<unknown> | undefined): Execution {
    // The handler is told the first caller's deadline (Dispatch.timeout_ms).
    const cancellation = new Cancellation(call.signal.deadlineMs);
    const shared: CommandCall = { ...call, signal: cancellation };
    const decide = () => this.decideAndAppend(shared, commandId, aggregateId);
    const run = after === undefined ? decide : () => after.then(decide, decide);
    const result = aggregateId === "" ? run() : this.queue.run(aggregateKey(call.aggregateType, aggregateId), `${call.aggregateType} ${aggregateId}`, run, cancellation);
    const execution: Execution = { result, method: call.method.name, cancellation, callers: 0 };
    this.running.set(commandId, execution);
    if (this.observer?.isWatched(commandId)) this.observer.changed(commandId);
    const forget = () => {
      if (this.running.get(commandId) === execution) this.running.delete(commandId);
      // After the outcome was recorded (the append, or the failure's record, came first) and the entry is gone.
      if (this.observer?.isWatched(commandId)) this.observer.changed(commandId);
    };
    result.then(forget, forget);
    return execution;
  }

  /** Waits for the execution on behalf of one caller, who may leave early (deadline, cancel) without the others. */
  private join(execution: Execution, signal: Cancellation): Promise<Buffer> {
    execution.callers += 1;
    return new Promise<Buffer>((resolve, reject) => {
      let waiting = true;
      const stopListening = signal.onAbort(() => {
        if (!waiting) return;
        waiting = false;
        execution.callers -= 1;
        if (execution.callers === 0) execution.cancellation.abort(signal.reason);
        reject(signal.reason);
      });
      const settle = () => {
        waiting = false;
        stopListening();
      };
      execution.result.then(
        (ack) => (settle(), resolve(ack)),
        (error: unknown) => (settle(), reject(error)),
      );
    });
  }

  private async decideAndAppend(call: CommandCall, commandId: string, aggregateId: string): Promise<Buffer> {
    // Everyone who sent it gave up while it queued: do not run it.
    if (call.signal.aborted) throw call.signal.reason;
    const recorded = await this.fromStore(() => this.store.findOutcome(commandId));
    if (recorded !== undefined) return answerFrom(recorded);
    const aggregateType = call.aggregateType;
    // A service command's outcome expires (RECQ_OUTCOME_RETENTION_MS), its events do not: a repeat whose events are
    // stored has run, and must not run its side effects again.
    if (aggregateId === "") {
      const stored = await this.serviceStreamAck(aggregateType, commandId);
      if (stored !== undefined) return stored;
    }
    // An upload's content has streamed to the handler once and cannot be sent again: a conflict ends it (ABORTED).
    const maxRetries = call.requestSource === undefined ? this.options.maxConflictRetries : 0;
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      const aggregate = aggregateId === "" ? undefined : await this.fromStore(() => this.cache.load(aggregateType, aggregateId));
      const expectedSequence = aggregate?.sequence ?? 0;
      const outcome = await this.dispatch(call, commandId, aggregateId, aggregate, attempt);
      const stream = appendStreamOf(aggregateId, expectedSequence, commandId, outcome.events.length, outcome.snapshot !== undefined);
      const snapshot = outcome.snapshot && { sequence: Number(outcome.snapshot.sequence), type: outcome.snapshot.type, payload: outcome.snapshot.payload };
      const result = await this.append(call.traceContext, {
        aggregateType,
        aggregateId: stream.aggregateId,
        expectedSequence: stream.expectedSequence,
        commandId,
        events: outcome.events.map((e) => ({ type: e.type, payload: e.payload, metadata: withTrace(e.metadata, call.traceContext) })),
        snapshot,
      });
      if (result.kind === "appended") {
        if (aggregateId !== "") this.cache.appended(aggregateType, aggregateId, result.events, snapshot);
        return encodeAck(result.ack.commandId, result.ack.position, result.ack.sequence);
      }
      // Not redispatched: the service's side effects must not run again for a command id that has run.
      if (isServiceStream(aggregateId, stream)) return this.outcomeOfRacedServiceCommand(aggregateType, commandId);
      this.cache.evict(aggregateType, aggregateId);
    }
    // Not recorded: the aggregate may be quiet by the time the caller retries the same id.
    throw new MeshError(
      status.ABORTED,
      call.requestSource === undefined
        ? `aggregate ${aggregateType} ${aggregateId} kept changing: ${this.options.maxConflictRetries + 1} attempts conflicted`
        : `aggregate ${aggregateType} ${aggregateId} changed while the upload ran; send it again`,
      Reason.AGGREGATE_CONFLICT,
    );
  }

  /**
   * A service command's stream is named by its command id: an append to it conflicts only when the same command id
   * ran at the same time through another gateway on the same store. Its outcome is the answer, once its append has
   * settled (reading the stream waits for that).
   */
  private async outcomeOfRacedServiceCommand(aggregateType: string, commandId: string): Promise<Buffer> {
    const stored = await this.serviceStreamAck(aggregateType, commandId);
    const recorded = await this.fromStore(() => this.store.findOutcome(commandId));
    if (recorded !== undefined) return answerFrom(recorded);
    // Its outcome has expired already: the events are the answer.
    if (stored !== undefined) return stored;
    throw new MeshError(status.ABORTED, `command ${commandId} ran at the same time elsewhere, and its outcome cannot be read yet: send it again`, Reason.AGGREGATE_CONFLICT);
  }

  /**
   * The ack of a service command read from its stored events (their stream is named by its command id:
   * service-stream.ts): the last one's position, and their count as the sequence. Undefined when it stored none.
   */
  private async serviceStreamAck(aggregateType: string, commandId: string): Promise<Buffer | undefined> {
    const stream = await this.fromStore(() => this.store.readAggregate(aggregateType, commandId));
    const last = stream.events[stream.events.length - 1];
    return last === undefined ? undefined : encodeAck(commandId, last.position, stream.sequence);
  }

  /** A store read that fails is the store's outage, not the caller's fault: UNAVAILABLE, safe to retry. */
  private async fromStore<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (thrown) {
      if (thrown instanceof MeshError) throw thrown;
      throw new MeshError(status.UNAVAILABLE, `the event store is unavailable: ${String(thrown)}`, Reason.STORE_UNAVAILABLE, { cause: thrown });
    }
  }

  /** Records a handler's decision against the command; if the store cannot, the caller still gets the answer. */
  private async recordFailure(commandId: string, error: MeshError): Promise<void> {
    try {
      await this.store.recordFailure({ commandId, code: error.code, message: error.message, reason: error.reason });
    } catch (thrown) {
      this.logger.warn("could not record a command's failure; a repeat will run it again", { commandId, error: String(thrown) });
    }
  }

  private async dispatch(
    call: CommandCall,
    commandId: string,
    aggregateId: string,
    aggregate: CachedAggregate | undefined,
    attempt: number,
  ): Promise<HandlerOutcome> {
    const route = this.dispatcher.route(call.method, aggregateId === "" ? undefined : aggregateKey(call.aggregateType, aggregateId));
    // The gateway as the handler's client: named after the method it calls, like the caller's call.
    const span = startRpcSpan(call.method.name, SpanKind.CLIENT, call.traceContext, {
      [Attribute.COMMAND_ID]: commandId,
      [Attribute.AGGREGATE_ID]: aggregateId,
      [Attribute.COMPONENT]: route.link.component,
      [Attribute.INSTANCE]: route.link.instanceId,
      [Attribute.ATTEMPT]: attempt,
    });
    try {
      const body = {
        payload: call.payload,
        commandId,
        aggregateId,
        snapshot: aggregate?.snapshot,
        history: aggregate?.history ?? [],
        timeoutMs: call.signal.remainingMs(),
        headers: call.headers,
      };
      const metadata = frameTraceMetadata(span, call.traceContext);
      const outcome =
        call.requestSource === undefined
          ? await this.dispatcher.unary(route, call.method, body, metadata, call.signal)
          : await this.dispatcher.upload(route, call.method, body, metadata, call.signal, call.requestSource);
      if (outcome.$case !== "command") {
        throw new MeshError(status.INTERNAL, `the handler answered command ${call.method.name} with a ${outcome.$case}`, Reason.PROTOCOL_VIOLATION);
      }
      this.options.eventCheck.check(call.method.name, outcome.value);
      recordRpcOutcome(span);
      return outcome.value;
    } catch (thrown) {
      const error = MeshError.from(thrown);
      recordRpcOutcome(span, error);
      // Only the handler's own decisions are the command's outcome; a lost link or a deadline is not.
      if (isRecordedFailure(error)) await this.recordFailure(commandId, error);
      throw error;
    } finally {
      span.end();
    }
  }

  private async append(traceContext: Context, request: Parameters<EventStore["append"]>[0]) {
    const span = startMeshSpan(
      SpanName.EVENT_APPEND,
      {
        attributes: {
          [Attribute.AGGREGATE_TYPE]: request.aggregateType,
          [Attribute.AGGREGATE_ID]: request.aggregateId,
          [Attribute.EVENT_COUNT]: request.events.length,
        },
      },
      traceContext,
    );
    try {
      const result = await this.store.append(request);
      if (result.kind === "appended") span.setAttribute(Attribute.POSITION, result.ack.position);
      else span.setAttribute("recq.conflict", true);
      return result;
    } catch (thrown) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(thrown) });
      if (thrown instanceof AppendRejectedError) {
        // What the handler decided cannot be stored (a limit, a broken shape): a bug to fix, not to retry.
        throw new MeshError(status.INTERNAL, `the handler's reply was refused by the event store: ${thrown.message}`, Reason.INVALID_HANDLER_REPLY, {
          cause: thrown,
        });
      }
      throw new MeshError(status.UNAVAILABLE, `the event store did not confirm the events: ${String(thrown)}`, Reason.STORE_UNAVAILABLE, {
        cause: thrown,
      });
    } finally {
      span.end();
    }
  }
}

/** Whether the pipeline recorded `error` as the command's outcome (a handler's decision): a repeat gets it too. */
export function isRecordedFailure(error: MeshError): boolean {
  return error instanceof HandlerFailure && recordedFailureCodes.has(error.code);
}

/**
 * The one check of a command id, wherever it entered (the gRPC and HTTP ports, accepted commands, reply channels,
 * links). A caller may not use the components' reserved ids: the gateway answers an id's recorded outcome whatever
 * the method, so a caller sending one first would suppress the component's command, or forge its answer.
 */
function checkCommandId(commandId: string | undefined, fromComponent: boolean): string | undefined {
  if (commandId === undefined || commandId === "") return undefined;
  if (commandId.length > MAX_COMMAND_ID_LENGTH) {
    throw new MeshError(status.INVALID_ARGUMENT, `recq-command-id is longer than ${MAX_COMMAND_ID_LENGTH} characters`, Reason.INVALID_REQUEST);
  }
  if (!fromComponent && isReservedCommandId(commandId)) {
    throw new MeshError(
      status.INVALID_ARGUMENT,
      `recq-command-id "${commandId}" starts with "recq:", which is reserved for the ids the mesh's components derive (observers, sagas): choose another id`,
      Reason.INVALID_REQUEST,
    );
  }
  return commandId;
}

function answerFrom(outcome: CommandOutcome): Buffer {
  if (outcome.kind === "failed") throw new MeshError(outcome.code as status, outcome.message, outcome.reason);
  return encodeAck(outcome.commandId, outcome.position, outcome.sequence);
}

function encodeAck(commandId: string, position: number, sequence: number): Buffer {
  const bytes = CommandAck.encode({ commandId, position: String(position), sequence: String(sequence) }).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Stores the command's trace context with each event, so projectors can link back to it. */
function withTrace(metadata: Record<string, string>, traceContext: Context): Record<string, string> {
  return traceContext === ROOT_CONTEXT ? metadata : injectTraceContext(traceContext, { ...metadata });
}
