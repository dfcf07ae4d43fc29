// The handler kit: what a TypeScript service imports to join the mesh.
export { MeshService, type CallOptions, type MeshServiceOptions } from "./src/mesh-service";
export type {
  AggregateDefinition,
  CommandContext,
  Codec,
  DomainEvent,
  EventCodecs,
  EventMeta,
  ProjectionDefinition,
  ProjectionRef,
  QueryContext,
  QueryDefinition,
  StreamingQueryContext,
} from "./src/handlers/definitions";
export { MeshError, Reason, REASON_METADATA_KEY } from "./src/errors/mesh-error";
export { jsonLogger, silentLogger, type Logger } from "./src/logging/logger";
export { startTelemetry, type Telemetry } from "./src/telemetry/start-telemetry";
export { TracedViewStore } from "./src/views/traced-view-store";
export { EmbeddedViewStore } from "./src/views/embedded-view-store";
export type { ViewStore, ViewDocument, ViewWrite, ViewFilter, ViewSort, FindOptions, ViewChange, WatchOptions } from "./src/views/view-store";
