import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { startTelemetry } from "@recq-mesh/protocol/internal/telemetry/start-telemetry";

let exporter: InMemorySpanExporter | undefined;

/** Registers an in-memory span exporter for this test process (once) and returns it. */
export function memorySpans(): InMemorySpanExporter {
  if (exporter === undefined) {
    exporter = new InMemorySpanExporter();
    startTelemetry("recq-test", [new SimpleSpanProcessor(exporter)]);
  }
  return exporter;
}

export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
