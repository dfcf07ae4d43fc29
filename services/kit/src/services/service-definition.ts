import type { CommandContext, DomainEvent, EventCodecs, RequestOf, ServiceDefinitionLike } from "../handlers/definitions";
import type { MeshCall } from "./mesh-call";

/** What a service's handler is told: the command's id, headers, caller and signal, and the mesh to call. */
export interface ServiceContext extends CommandContext {
  /**
   * Sends a command or unary query through this service's link. Give a command a `commandId` derived from
   * `context.commandId` when a redispatch of this command must not send it twice.
   */
  call: MeshCall;
}

type ServiceHandlerFor<M, C extends EventCodecs> = (command: RequestOf<M>, context: ServiceContext) => DomainEvent<C>[] | Promise<DomainEvent<C>[]>;

/**
 * A service: a command handler without aggregate state. Its commands carry no routing key, the gateway ships no
 * history, and a handler answers with SERVICE EVENTS (possibly none) or throws a MeshError. The events are stored
 * and published like an aggregate's, under the service's aggregate type, each command's as a stream of their own
 * named by its command id. A handler may have side effects (a call to the outside): a command id is run once, but a
 * handler may be dispatched again after its link was lost, so make them safe to repeat.
 */
export interface ServiceDefinition<D extends ServiceDefinitionLike, C extends EventCodecs> {
  service: D;
  events: C;
  handle: { [K in keyof D]: ServiceHandlerFor<D[K], C> };
}
