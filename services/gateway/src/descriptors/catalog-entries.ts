/** What a domain service is for: commands change state, queries read views. */
export type ServiceKind = "command" | "query";

/** The field of a command message whose value is the aggregate id: commands are routed and serialised by it. */
export interface RoutingKeyField {
  readonly fieldNumber: number;
  /** As declared in the .proto file, e.g. `list_id`. */
  readonly fieldName: string;
}

/** One RPC of a domain service, as the gateway serves it. */
export interface MethodEntry {
  /** The HTTP/2 path of the call: `/todo.v1.TodoListCommandService/CreateTodoList`. */
  readonly path: string;
  /** The path without its leading slash, as link subscriptions and spans name the method. */
  readonly name: string;
  /** Full name of the service: `todo.v1.TodoListCommandService`. */
  readonly service: string;
  readonly kind: ServiceKind;
  /** Full name of the request message: `todo.v1.CreateTodoList`. */
  readonly requestType: string;
  /** Full name of the response message: `recq.v1.CommandAck`. */
  readonly responseType: string;
  /** True for a subscription query (`stream` response). */
  readonly serverStreaming: boolean;
  /**
   * True for an upload command (`stream` request): its first message carries the routing key and what describes
   * the upload, the next ones the content (docs/large-data.md). Only commands may stream their request.
   */
  readonly clientStreaming: boolean;
  /** Only on commands whose request marks a routing key. */
  readonly routingKey?: RoutingKeyField;
}

/** A service marked `(recq.v1.service_kind)`. */
export interface ServiceEntry {
  readonly fullName: string;
  readonly kind: ServiceKind;
  /** `(recq.v1.aggregate_type)`, or the service's full name when the option is absent. */
  readonly aggregateType: string;
  readonly methods: readonly MethodEntry[];
}

/** One .proto file of the set. */
export interface FileEntry {
  /** As imported: `todo/v1/commands.proto`. */
  readonly name: string;
  /** Names of the files it imports, in declaration order. */
  readonly dependencies: readonly string[];
  /** The encoded FileDescriptorProto exactly as in the set: what reflection serves. */
  readonly bytes: Buffer;
}
