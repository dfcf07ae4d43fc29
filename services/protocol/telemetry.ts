// Telemetry set-up, apart from the index: a process imports and calls this first, before gRPC or the MongoDB
// driver load, so that the tracer provider is registered and the driver's instrumentation hooks its require.
export { startTelemetry, type Telemetry, type TelemetryOptions } from "./src/telemetry/start-telemetry";
