/* eslint-disable @typescript-eslint/no-require-imports -- the SDK is loaded only when spans are recorded */
import { propagation } from "@opentelemetry/api";
import type { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

// The SDK, its exporter and their dependencies weigh ~15 MB of heap and a few hundred ms of start-up: a process
// that records nothing (no OTEL_EXPORTER_OTLP_ENDPOINT) loads only the API and the W3C propagator.

/**
 * The module of @opentelemetry/core that holds the W3C propagator. The package's index loads the whole of core and,
 * through it, @opentelemetry/semantic-conventions (~20 ms and ~3 MiB at start) for this one class, which every
 * process needs; this module needs only the API. A test checks that it still exports the package's own class.
 */
export const W3C_PROPAGATOR_MODULE = "@opentelemetry/core/build/src/trace/W3CTraceContextPropagator";

export interface Telemetry {
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /**
   * Trace the MongoDB driver's commands (`@opentelemetry/instrumentation-mongodb`): each becomes a span under the
   * span active when it was issued, such as a query handler's. Only when spans are recorded. The driver must not
   * have been loaded yet: call `startTelemetry` first thing in the process. Default false.
   */
  instrumentMongoDB?: boolean;
}

/**
 * Sets up tracing for one process. W3C trace context always propagates (so a caller's trace passes through
 * the mesh even when this process records nothing); spans are recorded and exported over OTLP/gRPC only when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set, or to the processors given (tests pass an in-memory exporter's).
 */
export function startTelemetry(serviceName: string, processors: SpanProcessor[] = defaultProcessors(), options: TelemetryOptions = {}): Telemetry {
  propagation.setGlobalPropagator(new (w3cPropagatorClass())());
  if (processors.length === 0) return { shutdown: async () => undefined };
  const { NodeTracerProvider } = require("@opentelemetry/sdk-trace-node") as typeof import("@opentelemetry/sdk-trace-node");
  const { resourceFromAttributes } = require("@opentelemetry/resources") as typeof import("@opentelemetry/resources");
  const { ATTR_SERVICE_NAME } = require("@opentelemetry/semantic-conventions") as typeof import("@opentelemetry/semantic-conventions");
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: process.env.OTEL_SERVICE_NAME ?? serviceName }),
    spanProcessors: processors,
  });
  provider.register();
  const instrumentation = options.instrumentMongoDB === true ? instrumentMongoDB(provider) : undefined;
  return {
    shutdown: async () => {
      instrumentation?.disable();
      await provider.shutdown();
    },
  };
}

function defaultProcessors(): SpanProcessor[] {
  if (!process.env.OTEL_EXPORTER_OTLP_ENDPOINT) return [];
  const { BatchSpanProcessor } = require("@opentelemetry/sdk-trace-base") as typeof import("@opentelemetry/sdk-trace-base");
  const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-grpc") as typeof import("@opentelemetry/exporter-trace-otlp-grpc");
  return [new BatchSpanProcessor(new OTLPTraceExporter())];
}

/**
 * Hooks `require("mongodb")` so the driver's commands are traced. Loaded here and only here: the instrumentation
 * costs ~80 ms to load and a require hook, which a process without MongoDB should not pay. Driver spans need a
 * parent (`requireParentSpan`), so background work of the stores (group commits, change streams), which runs in
 * the root context, makes none.
 */
function instrumentMongoDB(provider: NodeTracerProvider): { disable(): void } {
  const { MongoDBInstrumentation } = require("@opentelemetry/instrumentation-mongodb") as typeof import("@opentelemetry/instrumentation-mongodb");
  const instrumentation = new MongoDBInstrumentation({ enabled: false, requireParentSpan: true });
  instrumentation.setTracerProvider(provider);
  instrumentation.enable();
  return instrumentation;
}

/** The W3C propagator's class, from its own module; from the package's index should a release have moved it. */
function w3cPropagatorClass(): typeof W3CTraceContextPropagator {
  try {
    return (require(W3C_PROPAGATOR_MODULE) as typeof import("@opentelemetry/core")).W3CTraceContextPropagator;
  } catch {
    return (require("@opentelemetry/core") as typeof import("@opentelemetry/core")).W3CTraceContextPropagator;
  }
}
