import { randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { SpanKind, type Context } from "@opentelemetry/api";
import { MeshError, Reason, contextWithSpan, recordRpcOutcome, startRpcSpan } from "@recq-mesh/protocol";
import { REPLY_TO_METADATA, replyChannelOf } from "../channels/channel-name";
import { alsoToChannel, type ReplyChannels } from "../channels/reply-channels";
import type { CommandPipeline } from "../commands/command-pipeline";
import type { DescriptorCatalog, MethodEntry } from "../descriptors/descriptor-catalog";
import { parseConsistencyToken, type QueryRelay } from "../queries/query-relay";
import type { Cancellation } from "./cancellation";
import { COMMAND_ID_METADATA, CONSISTENCY_TOKEN_METADATA } from "./domain-methods";
import { withCallerHeaders, type CallerIdentity } from "../security/caller-identity";

/**
 * One unary command or query that did not come as a gRPC unary call of its own: a call a handler service makes
 * over its link (recq.v1.Call), or a request on a caller's reply channel (recq.v1.OpenRequest).
 */
export interface UnaryRequest {
  /** Full method name, `todo.v1.TodoListCommandService/AddTodoItem`. */
  method: string;
  /** The request message, passed on as these bytes. */
  payload: Buffer;
  /** What a caller would send as metadata: `recq-command-id`, `recq-consistency-token`, `x-…` headers. */
  headers: Record<string, string>;
}

/** What a request runs with: its deadline and cancellation, its parent trace context, and what admits it. */
export interface UnaryRunContext {
  signal: Cancellation;
  traceContext: Context;
  /** Runs once the method is known, inside the request's span; throws the refusal (admission, a payload check). */
  admit?: (method: MethodEntry) => void;
  /** Who sent it, when the gateway authenticated the caller: handlers get its subject and claims. */
  caller?: CallerIdentity;
}

/** Runs a request through the gateway's own command or query path; resolves with the encoded response. */
export type UnaryCallRunner = (request: UnaryRequest, context: UnaryRunContext) => Promise<Buffer>;

/** The way requests not made as gRPC unary calls came. */
export interface UnaryCallSource {
  /** For the refusal of a streaming query: "over a link", "on a reply channel". */
  via: string;
  /** A component's link: its commands may carry the components' reserved command ids (`recq:…`). */
  fromComponent: boolean;
}

export const OVER_A_LINK: UnaryCallSource = { via: "over a link", fromComponent: true };
export const ON_A_REPLY_CHANNEL: UnaryCallSource = { via: "on a reply channel", fromComponent: false };

/**
 * Requests not made as gRPC unary calls take the same path as a caller's unary call — the command pipeline or
 * the query relay — with the same limits, deduplication, consistency tokens, failure statuses and server span.
 */
export interface UnaryCallPaths {
  catalog: DescriptorCatalog;
  commands: CommandPipeline;
  queries: QueryRelay;
  /** Where a command sent with `recq-reply-to` also delivers its outcome. */
  replyChannels: ReplyChannels;
}

export function unaryCallRunner({ catalog, commands, queries, replyChannels }: UnaryCallPaths, maxRequestBytes: number, { via, fromComponent }: UnaryCallSource): UnaryCallRunner {
  const run = (method: MethodEntry, request: UnaryRequest, context: UnaryRunContext): Promise<Buffer> => {
    if (request.payload.length > maxRequestBytes) {
      throw new MeshError(status.RESOURCE_EXHAUSTED, `the request is ${request.payload.length} bytes; the gateway accepts at most ${maxRequestBytes}`, Reason.REQUEST_TOO_LARGE);
    }
    const headers = withCallerHeaders(applicationHeaders(request.headers), context.caller);
    if (method.kind === "command") {
      const replyTo = replyChannelOf(request.headers[REPLY_TO_METADATA]);
      // An outcome sent to a channel names its command: one is chosen here when the caller gave none.
      const commandId = request.headers[COMMAND_ID_METADATA] || (replyTo === undefined ? undefined : randomUUID());
      const result = commands.execute({
        method,
        aggregateType: catalog.serviceByName(method.service)!.aggregateType,
        payload: request.payload,
        commandId,
        headers,
        signal: context.signal,
        traceContext: context.traceContext,
        fromComponent,
      });
      return replyTo === undefined ? result : alsoToChannel(result, replyTo, method.name, commandId!, replyChannels);
    }
    const consistencyToken = parseConsistencyToken(request.headers[CONSISTENCY_TOKEN_METADATA]);
    return queries.unary({ method, payload: request.payload, headers, consistencyToken, signal: context.signal, traceContext: context.traceContext });
  };
  return async (request, context) => {
    const name = request.method.startsWith("/") ? request.method.slice(1) : request.method;
    const method = catalog.methodByPath(`/${name}`);
    if (method === undefined) throw new MeshError(status.UNIMPLEMENTED, `no command or query method ${name} in the gateway's descriptor set`, Reason.INVALID_REQUEST);
    if (method.serverStreaming || method.clientStreaming) {
      const what = method.serverStreaming ? "a streaming query" : "an upload (client-streaming)";
      throw new MeshError(status.UNIMPLEMENTED, `${name} is ${what}: it cannot be called ${via}; call it through the gateway's gRPC service`, Reason.INVALID_REQUEST);
    }
    // A request like a caller's call: the same server span, a child of whoever sent it.
    const span = startRpcSpan(method.name, SpanKind.SERVER, context.traceContext);
    try {
      context.admit?.(method);
      const answer = await run(method, request, { signal: context.signal, traceContext: contextWithSpan(span, context.traceContext), caller: context.caller });
      recordRpcOutcome(span);
      return answer;
    } catch (thrown) {
      const error = MeshError.from(thrown);
      recordRpcOutcome(span, error);
      throw error;
    } finally {
      span.end();
    }
  };
}

function applicationHeaders(headers: Record<string, string>): Record<string, string> {
  const forwarded: Record<string, string> = {};
  for (const key in headers) if (key.startsWith("x-")) forwarded[key] = headers[key]!;
  return forwarded;
}
