import { context, SpanKind, SpanStatusCode, type Attributes } from "@opentelemetry/api";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason, SpanName, contextWithSpan, extractTraceContext, startMeshSpan } from "@recq-mesh/protocol";

/**
 * Runs a handler inside a `recq.handler.handle` span whose parent is the gateway's dispatch span (carried in
 * the dispatch frame's metadata), with that span active so view reads nest under it.
 */
export async function tracedRun<T>(metadata: Record<string, string>, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  const parent = extractTraceContext(metadata);
  const span = startMeshSpan(SpanName.HANDLER_HANDLE, { kind: SpanKind.SERVER, attributes }, parent);
  try {
    return await context.with(contextWithSpan(span, parent), work);
  } catch (thrown) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: MeshError.from(thrown).message });
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
