import type { BlobStore } from "../blobs/blob-store";
import type { Caller } from "./caller";
import type { ViewStore, ViewWrite } from "../views/view-store";

/** What ts-proto generates for every message: enough to encode and decode it. */
export interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/** Event codecs by full protobuf type name: `{ "todo.v1.TodoListCreated": TodoListCreated, … }`. */
export type EventCodecs = Record<string, Codec<never> | Codec<unknown>>;

type DataOf<C> = C extends Codec<infer T> ? T : never;

/** A decoded event: a union discriminated by `type`, one member per codec. */
export type DomainEvent<C extends EventCodecs> = { [K in keyof C & string]: { type: K; data: DataOf<C[K]> } }[keyof C & string];

/** One method of a ts-proto `outputServices=grpc-js` service definition. */
export interface MethodDefinitionLike {
  path: string;
  /** True for a client-streaming method: an upload command. */
  requestStream?: boolean;
  responseStream: boolean;
  requestSerialize(value: never): Buffer;
  requestDeserialize(value: Buffer): unknown;
  responseSerialize(value: never): Buffer;
  responseDeserialize(value: Buffer): unknown;
}
export type ServiceDefinitionLike = Record<string, MethodDefinitionLike>;

export type RequestOf<M> = M extends { requestDeserialize(value: Buffer): infer R } ? R : never;
export type ResponseOf<M> = M extends { responseSerialize(value: infer R): Buffer } ? R : never;

export interface CommandContext {
  commandId: string;
  aggregateId: string;
  /** The aggregate's sequence the decision is based on (0 for a new aggregate). */
  sequence: number;
  /** Caller metadata the gateway forwarded (`x-…` keys, and the caller's identity as `recq-caller-*`). */
  headers: Record<string, string>;
  /** Aborted when the caller goes away or its deadline passes. */
  signal: AbortSignal;
  /** Who called, when the gateway authenticated the caller (docs/security.md). */
  readonly caller?: Caller;
}

/** What an upload's `decide` gets beyond a command's: where to store the content. */
export interface UploadContext extends CommandContext {
  /** The service's blob store (MeshServiceOptions.blobs). A write aborted by `signal` keeps nothing. */
  blobs: BlobStore;
}

/**
 * How each command method decides. A unary command: `(command, state, context)`. An upload (a client-streaming
 * command): `(first, rest, state, context)` — the first message (routing key, what describes the content), then the
 * others as they arrive, under flow control: reading slowly slows the uploader. If the upload is cut off (caller
 * gone, deadline, link lost), iterating `rest` throws and whatever `decide` answers is dropped: no event.
 */
export type DeciderFor<M, S, C extends EventCodecs> = M extends { requestStream: true }
  ? (first: RequestOf<M>, rest: AsyncIterable<RequestOf<M>>, state: S, context: UploadContext) => Promise<DomainEvent<C>[]>
  : (command: RequestOf<M>, state: S, context: CommandContext) => DomainEvent<C>[] | Promise<DomainEvent<C>[]>;

/**
 * A stateless aggregate command handler, Evento style: the gateway ships the history with each command;
 * `evolve` folds it, `decide` answers with new events or throws a MeshError (FAILED_PRECONDITION, …).
 */
export interface AggregateDefinition<D extends ServiceDefinitionLike, S, C extends EventCodecs> {
  service: D;
  events: C;
  initialState(): S;
  evolve(state: S, event: DomainEvent<C>): S;
  decide: { [K in keyof D]: DeciderFor<D[K], S, C> };
  /** Store the folded state every `every` events, so that long-lived aggregates ship little history. */
  snapshot?: { type: string; codec: Codec<S>; every: number };
  /**
   * Keep the states folded for the `maxAggregates` most recently used aggregates in this process, so that
   * the next command of a busy aggregate folds only the events since. Only for aggregates whose `evolve`
   * returns a new state and whose `decide` leaves the state it is given unchanged: a cached state is reused.
   */
  stateCache?: {
    maxAggregates: number;
    /**
     * Optionally, a bound on the payload bytes (snapshot and events) the cached states were folded from, which a
     * state's memory follows: with it, `maxAggregates` may be set for many small aggregates without letting a
     * few large ones take as much memory each.
     */
    maxBytes?: number;
  };
}

export interface QueryContext {
  headers: Record<string, string>;
  signal: AbortSignal;
  /** Who called, when the gateway authenticated the caller (docs/security.md). */
  readonly caller?: Caller;
}

export interface StreamingQueryContext extends QueryContext {
  /** Sends one answer to the caller at once (the gateway's backlog limits bound a caller that reads slowly). */
  emit(answer: unknown): void;
  /**
   * Sends one answer once the gateway has room for it: resolves when sent, so a loop of `await write(…)` goes at
   * the caller's pace (a download). Rejects with the cancel reason once the call is over.
   */
  write(answer: unknown): Promise<void>;
}

type QueryHandlerFor<M> = M extends { responseStream: true }
  ? (request: RequestOf<M>, context: StreamingQueryContext & { emit(answer: ResponseOf<M>): void; write(answer: ResponseOf<M>): Promise<void> }) => Promise<void>
  : (request: RequestOf<M>, context: QueryContext) => Promise<ResponseOf<M>>;

export interface QueryDefinition<D extends ServiceDefinitionLike> {
  service: D;
  /** The projection whose views the answers read: queries with a consistency token wait for it. */
  projection?: ProjectionRef;
  handlers: { [K in keyof D]: QueryHandlerFor<D[K]> };
}

export interface EventMeta {
  position: number;
  aggregateId: string;
  sequence: number;
  timeMs: number;
  commandId: string;
}

/** Names a projection: enough to know the consumer name its position is tracked by. */
export interface ProjectionRef {
  name: string;
  scope: "shared" | "instance";
}

/**
 * A projection: turns events into view writes. Each event's writes and the checkpoint commit together, so the
 * view is exactly-once although delivery is at-least-once.
 */
export interface ProjectionDefinition<C extends EventCodecs> extends ProjectionRef {
  /**
   * `shared`: every instance writes one view store (MongoDB); one instance at a time is active.
   * `instance`: each process has its own view store (embedded): each instance is its own projection.
   */
  scope: "shared" | "instance";
  store: ViewStore;
  events: C;
  /** Creates the indexes the queries need; runs once at start. */
  setup?(store: ViewStore): Promise<void>;
  apply(event: DomainEvent<C>, meta: EventMeta, views: ViewStore): ViewWrite[] | Promise<ViewWrite[]>;
}
