import { context, SpanKind, type Attributes } from "@opentelemetry/api";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason, contextWithSpan, extractTraceContext, recordRpcOutcome, startRpcSpan } from "@recq-mesh/protocol";

/**
 * Runs a handler of `method` inside its server span — named after the method, a child of the gateway's
 * dispatch span (carried in the dispatch frame's metadata) — with that span active, so that view reads nest
 * under it and the calls the handler makes through the link continue its trace.
 */
export async function tracedRun<T>(method: string, metadata: Record<string, string>, attributes: Attributes | undefined, work: () => Promise<T>): Promise<T> {
  const parent = extractTraceContext(metadata);
  const span = startRpcSpan(method, SpanKind.SERVER, parent, attributes);
  try {
    const result = await context.with(contextWithSpan(span, parent), work);
    recordRpcOutcome(span);
    return result;
  } catch (thrown) {
    recordRpcOutcome(span, MeshError.from(thrown));
    throw thrown;
  } finally {
    span.end();
  }
}

/** A thrown error as the failure a reply carries. */
export function failureOf(thrown: unknown): { $case: "failure"; value: { code: number; message: string; reason: string } } {
  const error = MeshError.from(thrown);
  return { $case: "failure", value: { code: error.code, message: error.message, reason: error.reason } };
}

/** Decodes a request; bytes that do not parse are the caller's fault: INVALID_ARGUMENT. */
export function decodeRequest<T>(decode: (payload: Buffer) => T, payload: Buffer, method: string): T {
  try {
    return decode(payload);
  } catch (thrown) {
    throw new MeshError(status.INVALID_ARGUMENT, `the request of ${method} does not parse: ${thrown instanceof Error ? thrown.message : String(thrown)}`, Reason.INVALID_REQUEST);
  }
}
