import { propagation } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

export interface Telemetry {
  shutdown(): Promise<void>;
}

/**
 * Sets up tracing for one process. W3C trace context always propagates (so a caller's trace passes through
 * the mesh even when this process records nothing); spans are recorded and exported over OTLP/gRPC only when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set, or to the processors given (tests pass an in-memory exporter's).
 */
export function startTelemetry(serviceName: string, processors: SpanProcessor[] = defaultProcessors()): Telemetry {
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (processors.length === 0) return { shutdown: async () => undefined };
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: process.env.OTEL_SERVICE_NAME ?? serviceName }),
    spanProcessors: processors,
  });
  provider.register();
  return { shutdown: () => provider.shutdown() };
}

function defaultProcessors(): SpanProcessor[] {
  if (!process.env.OTEL_EXPORTER_OTLP_ENDPOINT) return [];
  return [new BatchSpanProcessor(new OTLPTraceExporter())];
}
