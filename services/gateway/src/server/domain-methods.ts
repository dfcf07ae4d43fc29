import { randomUUID } from "node:crypto";
import {
  status,
  type Metadata,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { SpanKind, type Context, type Span } from "@opentelemetry/api";
import { MeshError, Reason, Attribute, contextWithSpan, recordRpcOutcome, startRpcSpan } from "@recq-mesh/protocol";
import { acceptCommand, isAcceptRequested, MODE_METADATA } from "../accepted/acceptance";
import type { AcceptedExecutor } from "../accepted/accepted-executor";
import { answerOf } from "../outcomes/outcome-messages";
import type { CommandPipeline } from "../commands/command-pipeline";
import { REPLY_TO_METADATA, replyChannelOf } from "../channels/channel-name";
import { alsoToChannel, type ReplyChannels } from "../channels/reply-channels";
import type { MethodEntry, ServiceEntry } from "../descriptors/descriptor-catalog";
import { checkCredentials } from "../links/credentials";
import { callerIdentityOf, withCallerHeaders } from "../security/caller-identity";
import { parseConsistencyToken, type QueryCall, type QueryRelay } from "../queries/query-relay";
import type { Uploads } from "../uploads/uploads";
import { SubscriptionBacklog, type BacklogLimits } from "./subscription-backlog";
import { CallSignal } from "./call-signal";
import { callerTraceContext, firstValue } from "./caller-trace-context";
import type { CallTracker } from "./call-tracker";

export const COMMAND_ID_METADATA = "recq-command-id";
export const CONSISTENCY_TOKEN_METADATA = "recq-consistency-token";

export interface DomainMethodOptions {
  /** Largest request message accepted from a caller; larger ones get RESOURCE_EXHAUSTED. */
  maxRequestBytes: number;
  /** Longest a call without a deadline may take before it gets DEADLINE_EXCEEDED. */
  maxCallMsWithoutDeadline: number;
  /** When set, callers must send `authorization: Bearer <token>`. */
  clientToken: string | undefined;
  /** What a streaming query's slow caller may leave unread; past it the call ends with RESOURCE_EXHAUSTED. */
  backlog: BacklogLimits;
}

interface Deps {
  calls: CallTracker;
  commands: CommandPipeline;
  /** Runs accepted (`recq-mode: async`) commands; undefined when the gateway has no inbox. */
  accepted: AcceptedExecutor | undefined;
  queries: QueryRelay;
  /** Where a command sent with `recq-reply-to` also delivers its outcome. */
  replyChannels: ReplyChannels;
  /** Client-streaming commands: their count and limits. */
  uploads: Uploads;
  options: DomainMethodOptions;
}

/** Payloads pass through the gateway as the bytes the caller sent: no decode, no re-encode. */
const passThrough = (value: Buffer) => value;

/**
 * A grpc-js service definition for one domain service, built at run time from the descriptor set, with its
 * implementation: each command goes through the command pipeline, each query through the query relay.
 */
export function domainService(service: ServiceEntry, deps: Deps): { definition: ServiceDefinition; implementation: UntypedServiceImplementation } {
  const definition: Record<string, ServiceDefinition[string]> = {};
  const implementation: UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const key = method.name.slice(method.name.indexOf("/") + 1);
    definition[key] = {
      path: method.path,
      requestStream: method.clientStreaming,
      responseStream: method.serverStreaming,
      requestSerialize: passThrough,
      requestDeserialize: passThrough,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
    };
    implementation[key] =
      service.kind === "command"
        ? method.clientStreaming
          ? uploadHandler(method, service.aggregateType, deps)
          : commandHandler(method, service.aggregateType, deps)
        : method.serverStreaming
          ? streamingQueryHandler(method, deps)
          : unaryQueryHandler(method, deps);
  }
  return { definition: definition as ServiceDefinition, implementation };
}

type DomainCall = ServerUnaryCall<Buffer, Buffer> | ServerWritableStream<Buffer, Buffer> | ServerReadableStream<Buffer, Buffer>;

/** What every caller's call has, whatever its kind: its span, its signal and what travels with it. */
interface ServedCall<C extends DomainCall> {
  call: C;
  span: Span;
  signal: CallSignal;
  traceContext: Context;
  headers: Record<string, string>;
  metadata: Metadata;
}

/**
 * The frame of every domain call: count it, open its server span and signal, admit it, run `work`, and answer
 * exactly once — with the result or with the MeshError anything thrown maps to: through `callback` (unary and
 * upload calls), or by ending the call's stream (streaming queries, `callback` undefined). (Overload is refused
 * before this, by the admission interceptor.) `work` is made once per method, not per call.
 */
function serve<C extends DomainCall, T>(
  method: MethodEntry,
  call: C,
  deps: Deps,
  limitWithoutDeadlineMs: number | undefined,
  work: (served: ServedCall<C>) => Promise<T>,
  callback: sendUnaryData<T> | undefined,
): void {
  deps.calls.begin();
  const callerContext = callerTraceContext(call.metadata);
  const span = startRpcSpan(method.name, SpanKind.SERVER, callerContext);
  const signal = new CallSignal(call, limitWithoutDeadlineMs);
  const served: ServedCall<C> = {
    call,
    span,
    signal,
    traceContext: contextWithSpan(span, callerContext),
    // The caller's identity, when the gateway authenticated it (security/caller-interceptor.ts), travels with the call.
    headers: withCallerHeaders(forwardedHeaders(call.metadata), callerIdentityOf(call.metadata)),
    metadata: call.metadata,
  };
  // Plain promises rather than async functions: a gateway holds thousands of calls, and every suspended async
  // frame on a call's path is memory held until it answers. The two endings repeat three lines rather than share
  // a helper taking a `respond` closure: that would be one more allocation per call.
  let pending: Promise<T>;
  try {
    // An upload's messages are checked as they come (uploads/): it has no single request here.
    admit("request" in call ? call.request : undefined, call.metadata, deps.options);
    pending = work(served);
  } catch (thrown) {
    pending = Promise.reject(thrown);
  }
  pending.then(
    (result) => {
      signal.cleanup();
      if (callback !== undefined) callback(null, result);
      else (call as ServerWritableStream<Buffer, Buffer>).end();
      recordRpcOutcome(span);
      span.end();
      deps.calls.end();
    },
    (thrown: unknown) => {
      signal.cleanup();
      const error = failed(span, thrown);
      if (callback !== undefined) callback(error);
      else call.emit("error", error);
      span.end();
      deps.calls.end();
    },
  );
}

function commandHandler(method: MethodEntry, aggregateType: string, deps: Deps) {
  const work = ({ call, span, signal, traceContext, headers, metadata }: ServedCall<ServerUnaryCall<Buffer, Buffer>>): Promise<Buffer> => {
    const replyTo = replyChannelOf(firstValue(metadata, REPLY_TO_METADATA));
    // An outcome sent to a channel names its command: one is chosen here when the caller gave none.
    const commandId = firstValue(metadata, COMMAND_ID_METADATA) || (replyTo === undefined ? undefined : randomUUID());
    if (commandId) span.setAttribute(Attribute.COMMAND_ID, commandId);
    if (isAcceptRequested(firstValue(metadata, MODE_METADATA))) {
      const request = { method, aggregateType, payload: call.request, commandId, headers, replyTo, traceContext };
      return acceptCommand(deps.commands, deps.accepted, request).then(({ ack, header }) => {
        call.sendMetadata(header);
        return ack;
      });
    }
    // A synchronous repeat of an accepted command still waiting: its outcome, in its turn, not a second run.
    const accepted = commandId ? deps.accepted?.whenSettled(commandId, signal) : undefined;
    const result = accepted !== undefined ? accepted.then(answerOf) : deps.commands.execute({
      method,
      aggregateType,
      payload: call.request,
      commandId,
      headers,
      signal,
      traceContext,
    });
    return replyTo === undefined ? result : alsoToChannel(result, replyTo, method.name, commandId!, deps.replyChannels);
  };
  return (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => serve(method, call, deps, deps.options.maxCallMsWithoutDeadline, work, callback);
}

/**
 * A client-streaming command (an upload): its first message carries the routing key; the others are relayed to the
 * handler under its grants once the command's turn has come (docs/large-data.md). Synchronous only: an upload's
 * content cannot wait in the inbox of accepted commands.
 */
function uploadHandler(method: MethodEntry, aggregateType: string, deps: Deps) {
  const work = ({ call, span, signal, traceContext, headers, metadata }: ServedCall<ServerReadableStream<Buffer, Buffer>>): Promise<Buffer> => {
    if (isAcceptRequested(firstValue(metadata, MODE_METADATA))) {
      throw new MeshError(status.INVALID_ARGUMENT, `${method.name} is an upload: it runs only synchronously, not with ${MODE_METADATA}: async`, Reason.INVALID_REQUEST);
    }
    const commandId = firstValue(metadata, COMMAND_ID_METADATA) || undefined;
    if (commandId) span.setAttribute(Attribute.COMMAND_ID, commandId);
    return deps.uploads.run(call, signal, (payload, rest) =>
      deps.commands.executeUpload({ method, aggregateType, payload, commandId, headers, signal, traceContext }, rest),
    );
  };
  return (call: ServerReadableStream<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => serve(method, call, deps, deps.options.maxCallMsWithoutDeadline, work, callback);
}

function queryCall(method: MethodEntry, served: ServedCall<ServerUnaryCall<Buffer, Buffer> | ServerWritableStream<Buffer, Buffer>>): QueryCall {
  return {
    method,
    payload: served.call.request,
    headers: served.headers,
    consistencyToken: parseConsistencyToken(firstValue(served.metadata, CONSISTENCY_TOKEN_METADATA)),
    signal: served.signal,
    traceContext: served.traceContext,
  };
}

function unaryQueryHandler(method: MethodEntry, deps: Deps) {
  const work = (served: ServedCall<ServerUnaryCall<Buffer, Buffer>>) => deps.queries.unary(queryCall(method, served));
  return (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => serve(method, call, deps, deps.options.maxCallMsWithoutDeadline, work, callback);
}

function streamingQueryHandler(method: MethodEntry, deps: Deps) {
  const work = (served: ServedCall<ServerWritableStream<Buffer, Buffer>>) => {
    const backlog = new SubscriptionBacklog(served.call, served.signal, deps.options.backlog);
    return deps.queries.stream(queryCall(method, served), (payload, taken) => backlog.write(payload, taken), true);
  };
  // A subscription has no natural end: without a deadline it lives until the caller cancels.
  return (call: ServerWritableStream<Buffer, Buffer>) => serve(method, call, deps, undefined, work, undefined);
}

function admit(request: Buffer | undefined, metadata: Metadata, options: DomainMethodOptions): void {
  if (options.clientToken) {
    const header = firstValue(metadata, "authorization");
    checkCredentials(options.clientToken, header?.startsWith("Bearer ") ? header.slice(7) : header);
  }
  if (request !== undefined && request.length > options.maxRequestBytes) {
    throw new MeshError(
      status.RESOURCE_EXHAUSTED,
      `the request is ${request.length} bytes; the gateway accepts at most ${options.maxRequestBytes}`,
      Reason.REQUEST_TOO_LARGE,
    );
  }
}

function failed(span: Span, thrown: unknown) {
  const error = MeshError.from(thrown);
  recordRpcOutcome(span, error);
  return error.toStatus();
}


const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Caller metadata handed to the handler: application headers (`x-…`), nothing of the transport. */
function forwardedHeaders(metadata: Metadata): Record<string, string> {
  const all = metadata.getMap();
  let headers: Record<string, string> | undefined;
  for (const key in all) {
    const value = all[key];
    if (key.startsWith("x-") && typeof value === "string") (headers ??= {})[key] = value;
  }
  return headers ?? NO_HEADERS;
}
