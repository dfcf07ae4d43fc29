/**
 * Span and attribute names of the mesh, in one place, so tests and dashboards agree with the code. The spans of
 * a call — the gateway's server span, its dispatch to a handler, the handler's own — are not here: they follow
 * the OpenTelemetry RPC conventions and are named after the method called (`rpc-spans.ts`).
 */
export const SpanName = {
  EVENT_APPEND: "recq.event.append",
  /** One attempt at running an accepted (`recq-mode: async`) command, in the trace of its acceptance. */
  ACCEPTED_EXECUTE: "recq.accepted.execute",
  PROJECTOR_APPLY: "recq.projector.apply",
  /** An observer's handling of one event, a child of the command that caused it. */
  OBSERVER_HANDLE: "recq.observer.handle",
  VIEW_WRITE: "recq.view.write",
  VIEW_READ: "recq.view.read",
  /** One step of a saga instance: its state loaded, the event handled, the step recorded; a child of the event's trace. */
  SAGA_STEP: "recq.saga.step",
} as const;

/** The mesh's own attributes; a call's method is its `rpc.service` and `rpc.method` (`rpc-spans.ts`). */
export const Attribute = {
  COMMAND_ID: "recq.command_id",
  AGGREGATE_ID: "recq.aggregate_id",
  AGGREGATE_TYPE: "recq.aggregate_type",
  EVENT_TYPE: "recq.event_type",
  EVENT_COUNT: "recq.event_count",
  POSITION: "recq.position",
  CONSUMER: "recq.consumer",
  COMPONENT: "recq.component",
  INSTANCE: "recq.instance",
  ATTEMPT: "recq.attempt",
  COLLECTION: "recq.view.collection",
  SAGA: "recq.saga",
  SAGA_ASSOCIATION: "recq.saga.association",
} as const;

export const TRACER_NAME = "recq-mesh";
