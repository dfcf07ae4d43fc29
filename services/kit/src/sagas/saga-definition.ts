import type { CheckpointStore } from "../consumer/checkpoint-store";
import type { CallOptions } from "../mesh-service";
import type { Codec, DomainEvent, EventCodecs, EventMeta, MethodDefinitionLike, RequestOf, ResponseOf } from "../handlers/definitions";

type DataOf<C> = C extends Codec<infer T> ? T : never;

/** What a saga step may do besides returning the instance's next state. */
export interface SagaContext {
  /** The event's place in the stream and in its aggregate. */
  readonly meta: EventMeta;
  /** The association value of the instance (what `associate` answered for the event). */
  readonly association: string;
  /**
   * Sends a command (or a query) through the service's link. Its command id is derived from the saga, the instance,
   * the event's position and the send's rank in the step (`recq:saga:<name>:<association>:<position>:<n>`, the
   * names hashed past 128 characters; `recq:` ids are the components' own, refused from callers), so a step run
   * again after a crash sends nothing twice: it gets the outcomes recorded the first time. Sends must therefore
   * follow from the event and the state alone, in the same order.
   * A domain refusal (FAILED_PRECONDITION, NOT_FOUND, ALREADY_EXISTS, OUT_OF_RANGE, INVALID_ARGUMENT) rejects with
   * the MeshError, for the handler to compensate; any other failure (no handler, a lost link) fails the step
   * whether the handler catches it or not — every later send of the step rejects with it without going out — and
   * the step runs again later.
   */
  send<M extends MethodDefinitionLike>(method: M, request: RequestOf<M>, options?: SagaSendOptions): Promise<ResponseOf<M>>;
  /** Ends the instance once this step is recorded: it handles no event after it. */
  end(): void;
}

export type SagaSendOptions = Pick<CallOptions, "headers" | "timeoutMs" | "consistencyToken">;

/**
 * A saga: reacts to events, correlates them to an instance by an association value, keeps the instance's state,
 * sends commands, ends. The state is kept by the gateway (recq.v1.SagaStateService); the saga's process keeps only
 * its checkpoint.
 */
export interface SagaDefinition<C extends EventCodecs, S> {
  /** The saga's name: its consumer name, and the name its instances' state is kept under. */
  name: string;
  /** The events it handles, by full protobuf name. */
  events: C;
  state: {
    /** The name the state's message is kept under (its full protobuf name). */
    type: string;
    codec: Codec<S>;
    /** The state of an instance an event starts. */
    initial(): S;
  };
  /**
   * For each event type, the instance an event belongs to; undefined: to none (the event is skipped). A type not
   * listed is skipped too.
   */
  associate: { [K in keyof C & string]?: (event: DataOf<C[K]>, meta: EventMeta) => string | undefined };
  /** Event types that may start an instance; an event of another type for an instance that does not exist is skipped. */
  startsWith: (keyof C & string)[];
  /** Where the saga's position in the event stream is kept (a FileCheckpointStore, ViewStoreCheckpoints). */
  checkpoints: CheckpointStore;
  /** One step: the event and the instance's state → its next state. Throwing leaves the event unhandled (retried). */
  handle(event: DomainEvent<C>, state: S, context: SagaContext): S | Promise<S>;
}
