import type { Metadata } from "@grpc/grpc-js";
import { ROOT_CONTEXT, type Context } from "@opentelemetry/api";
import { extractTraceContext } from "@recq-mesh/protocol";

/** The first value of a metadata key, when it is text. */
export function firstValue(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === "string" ? value : undefined;
}

/** The caller's trace context, from its `traceparent` (and `tracestate`); most calls carry none, and then nothing is allocated. */
export function callerTraceContext(metadata: Metadata): Context {
  const traceparent = firstValue(metadata, "traceparent");
  if (!traceparent) return ROOT_CONTEXT;
  const carrier: Record<string, string> = { traceparent };
  const tracestate = firstValue(metadata, "tracestate");
  if (tracestate) carrier.tracestate = tracestate;
  return extractTraceContext(carrier);
}
