// What the gateway and the handler kit share, and what a component in any language must agree on: the error
// type and its reasons, the trace-context helpers and span names, logging, link framing. Loads neither the
// MongoDB driver (`@recq-mesh/protocol/mongodb`) nor the OpenTelemetry SDK (`@recq-mesh/protocol/telemetry`).
// The `recq.v1` contracts ship beside this: the .proto files in `proto/`, their generated code under
// `@recq-mesh/protocol/gen/recq/v1/*`.
export { MeshError, Reason, REASON_METADATA_KEY, RETRY_AFTER_METADATA_KEY } from "./src/errors/mesh-error";
export { boundedStatusMessage, boundedText, MAX_STATUS_MESSAGE_BYTES } from "./src/errors/status-text";
export { jsonLogger, silentLogger, type Logger, type LogLevel } from "./src/logging/logger";
export { Attribute, SpanName, TRACER_NAME } from "./src/telemetry/span-names";
export { RPC_GRPC_STATUS_CODE, RPC_METHOD, RPC_SERVICE, RPC_SYSTEM, recordRpcOutcome, rpcIdentity, startRpcSpan } from "./src/telemetry/rpc-spans";
export {
  contextWithSpan,
  extractTraceContext,
  frameTraceMetadata,
  injectTraceContext,
  isTracing,
  meshTracer,
  spanContextOf,
  startMeshSpan,
} from "./src/telemetry/trace-context";
export { DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_BATCH_FRAMES, FrameBatcher, type FrameBatcherOptions } from "./src/link/frame-batcher";
export { EncodedFrames, frameFieldBytes, varintBytes, type FrameEncoder } from "./src/link/encoded-frames";
export { LINK_PROTOCOL_VERSION } from "./src/link/link-protocol-version";
export { Backoff } from "./src/link/backoff";
export { consumerNameOf, generationKey } from "./src/link/generation-key";
export { MAX_COMMAND_ID_LENGTH, RESERVED_COMMAND_ID_PREFIX, isReservedCommandId, reservedCommandId } from "./src/link/reserved-command-ids";
export { LruMap } from "./src/collections/lru-map";
export { MONGODB_DATABASE_ENV, MONGODB_URI_ENV, mongoSettingsFrom, type MongoSettings } from "./src/mongo/mongo-settings";
export {
  DEFAULT_MONGODB_COMMIT_TIMEOUT_MS,
  MAX_MONGODB_COMMIT_TIMEOUT_MS,
  MONGODB_COMMIT_TIMEOUT_ENV,
  mongoCommitTimeoutFrom,
} from "./src/mongo/mongo-commit-timeout";
export { WakeableDelay } from "./src/mongo/wakeable-delay";
