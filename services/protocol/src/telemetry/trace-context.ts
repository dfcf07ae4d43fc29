import {
  context,
  INVALID_SPAN_CONTEXT,
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  trace,
  type Context,
  type Span,
  type SpanContext,
  type SpanOptions,
} from "@opentelemetry/api";
import { TRACER_NAME } from "./span-names";

/**
 * The mesh's tracer. A no-op until an SDK is registered (`startTelemetry`), so unconfigured runs pay nothing.
 * The API hands out a proxy that finds the registered provider when there is one, so it can be kept.
 */
const tracer = trace.getTracer(TRACER_NAME);

export function meshTracer() {
  return tracer;
}

/** Writes the W3C trace context of `ctx` into a frame's or an event's metadata map. */
export function injectTraceContext(ctx: Context, carrier: Record<string, string>): Record<string, string> {
  propagation.inject(ctx, carrier);
  return carrier;
}

/**
 * Reads the trace context carried by one frame or event. A link stream lives for hours, so the base is
 * ROOT_CONTEXT, never the stream's own context: every message carries its own parent.
 */
export function extractTraceContext(carrier: Record<string, string> | undefined): Context {
  if (carrier === undefined) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** The span context a carrier names, for span links (a projector's apply links to the command's span). */
export function spanContextOf(carrier: Record<string, string> | undefined): SpanContext | undefined {
  const spanContext = trace.getSpanContext(extractTraceContext(carrier));
  return spanContext !== undefined && trace.isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** The span every unrecorded operation shares: no allocation per call when nothing records spans. */
const UNRECORDED = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Whether a tracer provider is registered (spans are recorded and exported). */
export function isTracing(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer(TRACER_NAME) !== undefined;
}

/**
 * Starts a mesh span, or — when nothing records spans — returns a shared no-op span, so that the hot path
 * allocates nothing for tracing. The caller's trace context still travels: `contextWithSpan` then keeps the
 * parent, and injecting it forwards the caller's `traceparent`.
 */
export function startMeshSpan(name: string, options: SpanOptions, parent: Context): Span {
  return isTracing() ? tracer.startSpan(name, options, parent) : UNRECORDED;
}

export function contextWithSpan(span: Span, parent: Context = context.active()): Context {
  return span === UNRECORDED ? parent : trace.setSpan(parent, span);
}

/** Shared by every frame that carries no trace context: nothing to allocate. */
const NO_TRACE: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** A frame's metadata map for the work of `span` under `parent`: the W3C headers, or none at all. */
export function frameTraceMetadata(span: Span, parent: Context): Record<string, string> {
  if (span === UNRECORDED && parent === ROOT_CONTEXT) return NO_TRACE;
  return injectTraceContext(contextWithSpan(span, parent), {});
}
