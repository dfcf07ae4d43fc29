// Telemetry set-up: a service's main imports and calls this before anything else, so the tracer provider is
// registered before anything traces and the MongoDB instrumentation hooks the driver before it loads.
export { startTelemetry, type Telemetry, type TelemetryOptions } from "@recq-mesh/protocol/telemetry";
