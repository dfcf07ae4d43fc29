// The handler kit: what a TypeScript service imports to join the mesh. Start telemetry first, from
// `@recq-mesh/kit/telemetry`; this index loads gRPC but never the MongoDB driver (openViewStore loads it when
// MONGODB_URI is set; the MongoViewStore class itself is `@recq-mesh/kit/mongodb`).
export { DEFAULT_CATCH_UP_TIMEOUT_MS, MeshService, type CallOptions, type MeshServiceOptions, type ReactorOptions } from "./src/mesh-service";
export { callerOf, type Caller } from "./src/handlers/caller";
export { linkSecurityFromEnv, type LinkSecurity, type LinkTlsOptions } from "./src/link/link-security";
export type {
  AggregateDefinition,
  CommandContext,
  Codec,
  DomainEvent,
  EventCodecs,
  EventMeta,
  MethodDefinitionLike,
  ProjectionDefinition,
  ProjectionRef,
  QueryContext,
  QueryDefinition,
  RequestOf,
  ResponseOf,
  ServiceDefinitionLike,
  StreamingQueryContext,
  UploadContext,
} from "./src/handlers/definitions";
export { MeshError, Reason, REASON_METADATA_KEY, jsonLogger, silentLogger, type Logger, type LogLevel } from "@recq-mesh/protocol";
export { MONGODB_DATABASE_ENV, MONGODB_URI_ENV, mongoSettingsFrom, type MongoSettings } from "@recq-mesh/protocol";
export { openViewStore, type OpenedViewStore, type OpenViewStoreOptions } from "./src/views/open-view-store";
export { TracedViewStore } from "./src/views/traced-view-store";
export { EmbeddedViewStore } from "./src/views/embedded-view-store";
export { GenerationalViewStore } from "./src/views/generational-view-store";
export type { EmbeddedViewStoreOptions } from "./src/views/embedded-view-store-options";
export type { MongoViewStore } from "./src/views/mongo-view-store";
export type { MongoViewStoreOptions } from "./src/views/mongo-view-store-options";
export { ViewStoreError, type ViewStoreErrorCode } from "./src/views/view-store-error";
export type { FindOptions, ViewChange, ViewDocument, ViewFilter, ViewSort, ViewStore, ViewWrite, WatchOptions } from "./src/views/view-store";
export type { BlobReadOptions, BlobStore, BlobWriteOptions, StoredBlob } from "./src/blobs/blob-store";
export { FolderBlobStore } from "./src/blobs/folder-blob-store";
export { FileCheckpointStore, ViewStoreCheckpoints, type CheckpointStore } from "./src/consumer/checkpoint-store";
export type { ObserverContext, ObserverDefinition, ObserverEventMeta } from "./src/consumer/observer-definition";
export type { ServiceContext, ServiceDefinition } from "./src/services/service-definition";
export type { MeshCall } from "./src/services/mesh-call";
export { DEFAULT_DEAD_EVENT_SETTINGS, deadEventSettings, type DeadEventSettings } from "./src/consumer/dead-event-settings";
export {
  DEFAULT_CHECKPOINT_COALESCING,
  MAX_CHECKPOINT_EVENTS,
  MAX_CHECKPOINT_INTERVAL_MS,
  CoalescedCheckpoint,
  checkpointCoalescing,
  type CheckpointCoalescing,
} from "./src/consumer/checkpoint-coalescing";
export { parkedMarker } from "./src/consumer/parked-marker";
export type { SagaContext, SagaDefinition, SagaSendOptions } from "./src/sagas/saga-definition";
export { openBlobStore, type OpenBlobStoreOptions } from "./src/blobs/open-blob-store";
export { Invoker, type InvokerService } from "./src/invoker/invoker";
export type { GatewayInvokerOptions } from "./src/invoker/gateway-client-transport";
export type { CallerToken } from "./src/invoker/call-metadata";
export { DEFAULT_INVOKE_TIMEOUT_MS, type InvokeOptions, type StreamOptions } from "./src/invoker/invoke-options";
export type { InvokerTransport } from "./src/invoker/invoker-transport";
export { timeOrderedId } from "./src/invoker/time-ordered-id";
