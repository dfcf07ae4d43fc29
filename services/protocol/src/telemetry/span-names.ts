/** Span and attribute names of the mesh, in one place, so tests and dashboards agree with the code. */
export const SpanName = {
  GATEWAY_RECEIVE: "recq.gateway.receive",
  GATEWAY_DISPATCH: "recq.gateway.dispatch",
  EVENT_APPEND: "recq.event.append",
  HANDLER_HANDLE: "recq.handler.handle",
  PROJECTOR_APPLY: "recq.projector.apply",
  VIEW_WRITE: "recq.view.write",
  VIEW_READ: "recq.view.read",
} as const;

export const Attribute = {
  METHOD: "recq.method",
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
} as const;

export const TRACER_NAME = "recq-mesh";
