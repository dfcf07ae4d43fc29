import { randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { SpanKind, SpanStatusCode, type Context } from "@opentelemetry/api";
import { CommandAck } from "../../../../gen/recq/v1/command";
import type { CommandOutcome as HandlerOutcome } from "../../../../gen/recq/v1/link";
import { MeshError, Reason } from "../../../kit/src/errors/mesh-error";
import { Attribute, SpanName } from "../../../kit/src/telemetry/span-names";
import { injectTraceContext, meshTracer, contextWithSpan } from "../../../kit/src/telemetry/trace-context";
import type { MethodEntry } from "../descriptors/descriptor-catalog";
import { checkWellFormed, readRoutingKey } from "../descriptors/routing-key";
import type { Cancellation } from "../server/cancellation";
import type { Dispatcher } from "../routing/dispatcher";
import { AppendRejectedError, type CommandOutcome, type EventStore } from "../store/event-store";
import { AggregateCache, aggregateKey, type CachedAggregate } from "./aggregate-cache";
import { KeyedQueue } from "./keyed-queue";

export interface CommandPipelineOptions {
  /** Redispatches after an append conflict before the caller gets ABORTED. */
  maxConflictRetries: number;
  maxQueuedPerAggregate: number;
  maxQueuedCommands: number;
  aggregateCacheSize: number;
}

export interface CommandCall {
  method: MethodEntry;
  /** The command service's `(recq.v1.aggregate_type)`. */
  aggregateType: string;
  payload: Buffer;
  commandId: string | undefined;
  headers: Record<string, string>;
  signal: Cancellation;
  remainingMs: () => number;
  /** Trace context of the gateway's receive span. */
  traceContext: Context;
}

export const MAX_COMMAND_ID_LENGTH = 128;

/** Handler failures that are decisions about the command, recorded so that a repeat gets the same answer. */
const recordedFailureCodes = new Set<number>([
  status.INVALID_ARGUMENT,
  status.FAILED_PRECONDITION,
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.OUT_OF_RANGE,
  status.PERMISSION_DENIED,
  status.ABORTED,
]);

/**
 * The path of a command through the gateway: routing key → dedupe by command id → per-aggregate queue →
 * history → dispatch → append with the expected sequence (conflict: reload and redispatch, bounded) → ack.
 */
export class CommandPipeline {
  private readonly queue: KeyedQueue;
  private readonly cache: AggregateCache;
  /** Commands being executed now, by id: a repeat arriving meanwhile waits for the same outcome. */
  private readonly running = new Map<string, Promise<Buffer>>();

  constructor(
    private readonly store: EventStore,
    private readonly dispatcher: Dispatcher,
    private readonly options: CommandPipelineOptions,
  ) {
    this.queue = new KeyedQueue({ maxPerKey: options.maxQueuedPerAggregate, maxTotal: options.maxQueuedCommands });
    this.cache = new AggregateCache(store, options.aggregateCacheSize);
  }

  /** Resolves with the encoded CommandAck, or rejects with a MeshError. */
  execute(call: CommandCall): Promise<Buffer> {
    const aggregateId = this.routingKeyOf(call);
    const commandId = checkCommandId(call.commandId) ?? randomUUID();
    const running = this.running.get(commandId);
    if (running !== undefined) return running;
    const execution = this.executeOnce(call, commandId, aggregateId);
    this.running.set(commandId, execution);
    const forget = () => this.running.delete(commandId);
    execution.then(forget, forget);
    return execution;
  }

  private routingKeyOf(call: CommandCall): string {
    const key = call.method.routingKey;
    if (key === undefined) {
      checkWellFormed(call.payload);
      return "";
    }
    const value = readRoutingKey(call.payload, key.fieldNumber);
    if (value === "") {
      throw new MeshError(
        status.INVALID_ARGUMENT,
        `${call.method.requestType}.${key.fieldName} is required: it is the routing key of ${call.method.name}`,
        Reason.INVALID_REQUEST,
      );
    }
    return value;
  }

  private async executeOnce(call: CommandCall, commandId: string, aggregateId: string): Promise<Buffer> {
    const recorded = await this.store.findOutcome(commandId);
    if (recorded !== undefined) return answerFrom(recorded);
    const aggregateType = call.aggregateType;
    const run = () => this.decideAndAppend(call, commandId, aggregateType, aggregateId);
    // Commands without a routing key need no ordering: each runs on its own.
    return aggregateId === "" ? run() : this.queue.run(aggregateKey(aggregateType, aggregateId), `${aggregateType} ${aggregateId}`, run);
  }

  private async decideAndAppend(call: CommandCall, commandId: string, aggregateType: string, aggregateId: string): Promise<Buffer> {
    // A repeat that queued behind its first execution finds the outcome recorded by now.
    const recorded = await this.store.findOutcome(commandId);
    if (recorded !== undefined) return answerFrom(recorded);
    for (let attempt = 0; attempt <= this.options.maxConflictRetries; attempt++) {
      const aggregate = aggregateId === "" ? undefined : await this.cache.load(aggregateType, aggregateId);
      const expectedSequence = aggregate?.sequence ?? 0;
      const outcome = await this.dispatch(call, commandId, aggregateId, aggregate, attempt);
      const snapshot = outcome.snapshot && { sequence: Number(outcome.snapshot.sequence), type: outcome.snapshot.type, payload: outcome.snapshot.payload };
      const result = await this.append(call.traceContext, {
        aggregateType,
        aggregateId,
        expectedSequence,
        commandId,
        events: outcome.events.map((e) => ({ type: e.type, payload: e.payload, metadata: withTrace(e.metadata, call.traceContext) })),
        snapshot,
      });
      if (result.kind === "appended") {
        if (aggregateId !== "") this.cache.appended(aggregateType, aggregateId, result.events, snapshot);
        return encodeAck(result.ack.commandId, result.ack.position, result.ack.sequence);
      }
      this.cache.evict(aggregateType, aggregateId);
    }
    const error = new MeshError(
      status.ABORTED,
      `aggregate ${aggregateType} ${aggregateId} kept changing: ${this.options.maxConflictRetries + 1} attempts conflicted`,
      Reason.AGGREGATE_CONFLICT,
    );
    await this.store.recordFailure({ commandId, code: error.code, message: error.message, reason: error.reason });
    throw error;
  }

  private async dispatch(
    call: CommandCall,
    commandId: string,
    aggregateId: string,
    aggregate: CachedAggregate | undefined,
    attempt: number,
  ): Promise<HandlerOutcome> {
    const route = this.dispatcher.route(call.method.path, aggregateId === "" ? undefined : aggregateKey(call.aggregateType, aggregateId));
    const span = meshTracer().startSpan(
      SpanName.GATEWAY_DISPATCH,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [Attribute.METHOD]: call.method.name,
          [Attribute.COMMAND_ID]: commandId,
          [Attribute.AGGREGATE_ID]: aggregateId,
          [Attribute.COMPONENT]: route.link.component,
          [Attribute.INSTANCE]: route.link.instanceId,
          [Attribute.ATTEMPT]: attempt,
        },
      },
      call.traceContext,
    );
    try {
      const outcome = await this.dispatcher.unary(
        route,
        call.method.path,
        {
          payload: call.payload,
          commandId,
          aggregateId,
          snapshot: aggregate?.snapshot,
          history: aggregate?.history ?? [],
          timeoutMs: call.remainingMs(),
          headers: call.headers,
        },
        injectTraceContext(contextWithSpan(span, call.traceContext), {}),
        call.signal,
      );
      if (outcome.$case !== "command") {
        throw new MeshError(status.INTERNAL, `the handler answered command ${call.method.name} with a ${outcome.$case}`, Reason.PROTOCOL_VIOLATION);
      }
      return outcome.value;
    } catch (thrown) {
      const error = MeshError.from(thrown);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      if (recordedFailureCodes.has(error.code)) {
        await this.store.recordFailure({ commandId, code: error.code, message: error.message, reason: error.reason });
      }
      throw error;
    } finally {
      span.end();
    }
  }

  private async append(traceContext: Context, request: Parameters<EventStore["append"]>[0]) {
    const span = meshTracer().startSpan(
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
      throw new MeshError(status.UNAVAILABLE, `the event store did not take the events: ${String(thrown)}`, Reason.STORE_UNAVAILABLE, {
        cause: thrown,
      });
    } finally {
      span.end();
    }
  }
}

function checkCommandId(commandId: string | undefined): string | undefined {
  if (commandId === undefined || commandId === "") return undefined;
  if (commandId.length > MAX_COMMAND_ID_LENGTH) {
    throw new MeshError(status.INVALID_ARGUMENT, `recq-command-id is longer than ${MAX_COMMAND_ID_LENGTH} characters`, Reason.INVALID_REQUEST);
  }
  return commandId;
}

function answerFrom(outcome: CommandOutcome): Buffer {
  if (outcome.kind === "failed") throw new MeshError(outcome.code as status, outcome.message, outcome.reason);
  return encodeAck(outcome.commandId, outcome.position, outcome.sequence);
}

function encodeAck(commandId: string, position: number, sequence: number): Buffer {
  return Buffer.from(CommandAck.encode({ commandId, position: String(position), sequence: String(sequence) }).finish());
}

/** Stores the command's trace context with each event, so projectors can link back to it. */
function withTrace(metadata: Record<string, string>, traceContext: Context): Record<string, string> {
  return injectTraceContext(traceContext, { ...metadata });
}
