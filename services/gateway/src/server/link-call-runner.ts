import { status } from "@grpc/grpc-js";
import { SpanKind } from "@opentelemetry/api";
import type { Call } from "@recq-mesh/protocol/gen/recq/v1/link";
import { MeshError, Reason, contextWithSpan, recordRpcOutcome, startRpcSpan } from "@recq-mesh/protocol";
import type { CommandPipeline } from "../commands/command-pipeline";
import type { DescriptorCatalog, MethodEntry } from "../descriptors/descriptor-catalog";
import type { LinkCallContext, LinkCallRunner } from "../links/link-calls";
import { parseConsistencyToken, type QueryRelay } from "../queries/query-relay";
import { COMMAND_ID_METADATA, CONSISTENCY_TOKEN_METADATA } from "./domain-methods";

/**
 * Calls made over a handler link take the same path as a caller's unary call — the command pipeline or the
 * query relay — with the same limits, deduplication, consistency tokens, failure statuses and server span.
 */
export function linkCallRunner(catalog: DescriptorCatalog, commands: CommandPipeline, queries: QueryRelay, maxRequestBytes: number): LinkCallRunner {
  const run = (method: MethodEntry, call: Call, context: LinkCallContext): Promise<Buffer> => {
    if (call.payload.length > maxRequestBytes) {
      throw new MeshError(status.RESOURCE_EXHAUSTED, `the request is ${call.payload.length} bytes; the gateway accepts at most ${maxRequestBytes}`, Reason.REQUEST_TOO_LARGE);
    }
    const headers = applicationHeaders(call.headers);
    if (method.kind === "command") {
      return commands.execute({
        method,
        aggregateType: catalog.serviceByName(method.service)!.aggregateType,
        payload: call.payload,
        commandId: call.headers[COMMAND_ID_METADATA],
        headers,
        ...context,
      });
    }
    return queries.unary({ method, payload: call.payload, headers, consistencyToken: parseConsistencyToken(call.headers[CONSISTENCY_TOKEN_METADATA]), ...context });
  };
  return async (call, context) => {
    const method = catalog.methodByPath(`/${call.method}`);
    if (method === undefined) throw new MeshError(status.UNIMPLEMENTED, `no command or query method ${call.method} in the gateway's descriptor set`, Reason.INVALID_REQUEST);
    if (method.serverStreaming) {
      throw new MeshError(status.UNIMPLEMENTED, `${call.method} is a streaming query: call it through the gateway's gRPC service, not over a link`, Reason.INVALID_REQUEST);
    }
    // A call over a link is a call like a caller's: the same server span, a child of the calling handler's span.
    const span = startRpcSpan(method.name, SpanKind.SERVER, context.traceContext);
    try {
      const answer = await run(method, call, { signal: context.signal, traceContext: contextWithSpan(span, context.traceContext) });
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
