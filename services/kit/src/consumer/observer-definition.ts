import type { DomainEvent, EventCodecs, EventMeta } from "../handlers/definitions";
import type { MeshCall } from "../services/mesh-call";
import type { CheckpointStore } from "./checkpoint-store";

/** What an observer is told of an event beyond its payload. */
export interface ObserverEventMeta extends EventMeta {
  aggregateType: string;
  /** The event's full protobuf type name. */
  type: string;
  /** The stored event's metadata: the W3C trace context of the command that caused it, and what its handler added. */
  metadata: Record<string, string>;
}

export interface ObserverContext {
  /**
   * The command id of the first command sent through `call` while handling this event:
   * `recq:observer:${observer}:${position}`; the next ones get `…:2`, `…:3`. A redelivered event (at least once) so
   * sends the same ids, and the gateway runs each id once. Reserved ids (`recq:`): no caller can send them first.
   */
  readonly commandId: string;
  /** Sends a command or unary query through the service's link; a command gets the event's derived id unless `options.commandId` is given. */
  call: MeshCall;
}

/**
 * An observer: reacts to events with side effects — a notification, a call to the outside, commands to the mesh.
 * Delivery is at least once, in global order, from the observer's own checkpoint in `checkpoints` (moved after each
 * event is handled, its writes coalesced: checkpoint-coalescing.ts): an event whose handling throws is tried again in
 * place, then parked in the gateway's dead-event queue with its aggregate's later events (handled again, in order,
 * when retried); those handled since the checkpoint's last write are delivered again after a crash. Send commands with the context's derived ids, and make calls to
 * the outside safe to repeat (or send a command that makes them, as the TodoList's notifier does), so a redelivery
 * does nothing twice. An observer has its own consumer name: rebuilding a projection does not replay it.
 */
export interface ObserverDefinition<C extends EventCodecs> {
  /** The consumer name: one active instance per name across the mesh, the others standby. */
  name: string;
  events: C;
  /** Where the checkpoint is kept: FileCheckpointStore (a folder) or ViewStoreCheckpoints (MongoDB). */
  checkpoints: CheckpointStore;
  handle(event: DomainEvent<C>, meta: ObserverEventMeta, context: ObserverContext): void | Promise<void>;
}
