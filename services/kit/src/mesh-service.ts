import { randomUUID } from "node:crypto";
import { waitForCatchUp } from "./consumer/catch-up-wait";
import { ConsumerClient, type ConsumerClientOptions } from "./consumer/consumer-client";
import type { ConsumerEventHandler } from "./consumer/event-handler";
import type { DeadEventSettings } from "./consumer/dead-event-settings";
import { checkpointCoalescing, type CheckpointCoalescing } from "./consumer/checkpoint-coalescing";
import { ProjectionHandler } from "./consumer/projection-handler";
import { rebuildProjection } from "./consumer/projection-rebuild";
import { GenerationalViewStore } from "./views/generational-view-store";
import { ObserverHandler } from "./consumer/observer-handler";
import type { ObserverDefinition } from "./consumer/observer-definition";
import { serviceRunner } from "./services/service-runner";
import type { ServiceDefinition } from "./services/service-definition";
import { AggregateStateCache } from "./handlers/aggregate-state-cache";
import { commandRunner } from "./handlers/command-runner";
import { context } from "@opentelemetry/api";
import type {
  AggregateDefinition,
  EventCodecs,
  MethodDefinitionLike,
  ProjectionDefinition,
  ProjectionRef,
  QueryDefinition,
  RequestOf,
  ResponseOf,
  ServiceDefinitionLike,
} from "./handlers/definitions";
import { injectTraceContext, silentLogger, type Logger } from "@recq-mesh/protocol";
import { queryRunner } from "./handlers/query-runner";
import { uploadRunner } from "./handlers/upload-runner";
import type { BlobStore } from "./blobs/blob-store";
import { LinkClient } from "./link/link-client";
import { linkChannelCredentials, linkTlsChannelOptions, type LinkSecurity, type LinkTlsOptions } from "./link/link-security";
import type { ChannelCredentials, ChannelOptions } from "@grpc/grpc-js";
import type { SagaDefinition } from "./sagas/saga-definition";
import { SagaHandler } from "./sagas/saga-handler";
import { SagaStateClient } from "./sagas/saga-state-client";

export interface MeshServiceOptions {
  /** The gateway, host:port. */
  address: string;
  /** Logical name of this service, e.g. `todo`. */
  component: string;
  /** Unique per process; default a random UUID. */
  instanceId?: string;
  /**
   * The link token, when the gateway requires one: the gateway's shared token or this component's own. A function
   * is called at each connect (a token read from a file: `linkSecurityFromEnv` reads `RECQ_LINK_TOKEN_FILE` so).
   */
  credentials?: LinkSecurity["credentials"];
  /** TLS towards the gateway, with a client certificate for mTLS; default plaintext (link-security.ts). */
  tls?: LinkTlsOptions;
  logger?: Logger;
  /** Dispatches run at once (the permits granted). Default 256. */
  maxConcurrent?: number;
  /** How long a drain waits for work in flight. Default 10 s. */
  drainTimeoutMs?: number;
  /**
   * Largest link message this process accepts (it tells the gateway in Hello), and sends: a reply or a call past it, or
   * past the gateway's limit, fails alone with MESSAGE_TOO_LARGE. Default 64 MiB.
   */
  maxMessageBytes?: number;
  /**
   * How long the queries that read a projection of this process wait, unsubscribed, for it to catch up with the
   * store's head at start; past it they are subscribed anyway, with an error logged. Default 300 s.
   */
  catchUpTimeoutMs?: number;
  /** Where uploads store their content (`context.blobs` of an upload's decide): openBlobStore, FolderBlobStore, GridFsBlobStore. */
  blobs?: BlobStore;
  /** Messages of one upload the gateway may send ahead of the handler's reading. Default 4. */
  uploadWindow?: number;
  /**
   * How every projection of this process retries an event its apply throws on before the gateway parks it (the
   * dead-event queue): 5 tries, 100 ms to 5 s apart by default. `addProjection`, `addObserver` and `addSaga` may set it per consumer.
   */
  deadEvents?: Partial<DeadEventSettings>;
  /**
   * How every observer and saga of this process writes its checkpoint: the latest position handled at most
   * `intervalMs` after the first event it covers, or once `maxEvents` events wait for it (100 ms, 100 events by
   * default; `intervalMs: 0` writes per event). `addObserver` and `addSaga` may set it per consumer
   * (consumer/checkpoint-coalescing.ts). Projections are not concerned: their checkpoint commits with their views.
   */
  checkpointCoalescing?: Partial<CheckpointCoalescing>;
}

/** What `addObserver` and `addSaga` take beside the definition: per consumer, over the service's settings. */
export interface ReactorOptions {
  deadEvents?: Partial<DeadEventSettings>;
  checkpointCoalescing?: Partial<CheckpointCoalescing>;
}

/** Default of `MeshServiceOptions.catchUpTimeoutMs`. */
export const DEFAULT_CATCH_UP_TIMEOUT_MS = 300_000;

/** Options of a call a service makes through its link. */
export interface CallOptions {
  /** `recq-command-id`: a retry with the same id gets the first outcome. */
  commandId?: string;
  /** `recq-consistency-token`: a query waits until its projection has reached this position. */
  consistencyToken?: string;
  /** Application headers (`x-…`) for the handler. */
  headers?: Record<string, string>;
  /** The call's deadline from now. Default 30 s. */
  timeoutMs?: number;
}

/**
 * A process's membership of the mesh: register aggregates, queries and projections from ts-proto
 * definitions, then `start()`. One link carries every command and query; one consumer stream per projection.
 */
export class MeshService {
  readonly instanceId: string;
  private readonly link: LinkClient;
  /** The consumer streams (projectors, sagas), by consumer name. */
  private readonly projectors = new Map<string, ConsumerClient>();
  /** The observers and sagas, by consumer name: started once the link is up, since they send commands through it. */
  private readonly reactors = new Map<string, ConsumerClient>();
  /** The saga state clients, closed with the service. */
  private readonly sagaStates: SagaStateClient[] = [];
  /** The rebuilds running in this process, by consumer name, with their consumer clients (to drain them too). */
  private readonly rebuilds = new Map<string, { generation: number; clients: Set<ConsumerClient> }>();
  /** Query methods by the consumer name of the projection whose views they read. */
  private readonly queriesByProjection = new Map<string, string[]>();
  /** Aborted by drain and close: ends the wait of queries for their projection. */
  private readonly stopping = new AbortController();
  private readonly logger: Logger;
  /** One TLS setup (and one file watcher) for the link and every consumer stream. */
  private readonly transport: { channelCredentials: ChannelCredentials; channelOptions: ChannelOptions };

  constructor(private readonly options: MeshServiceOptions) {
    this.instanceId = options.instanceId ?? randomUUID();
    this.logger = options.logger ?? silentLogger;
    const catchUpTimeoutMs = options.catchUpTimeoutMs;
    if (catchUpTimeoutMs !== undefined && (!Number.isSafeInteger(catchUpTimeoutMs) || catchUpTimeoutMs <= 0)) {
      throw new Error(`MeshService option catchUpTimeoutMs must be a positive integer, got ${catchUpTimeoutMs}`);
    }
    this.transport = { channelCredentials: linkChannelCredentials(options.tls), channelOptions: linkTlsChannelOptions(options.tls) };
    this.link = new LinkClient({
      address: options.address,
      component: options.component,
      instanceId: this.instanceId,
      credentials: options.credentials,
      channelCredentials: this.transport.channelCredentials,
      channelOptions: this.transport.channelOptions,
      logger: this.logger,
      maxConcurrent: options.maxConcurrent,
      maxMessageBytes: options.maxMessageBytes,
      uploadWindow: options.uploadWindow,
    });
  }

  addAggregate<D extends ServiceDefinitionLike, S, C extends EventCodecs>(definition: AggregateDefinition<D, S, C>): this {
    // One state cache for all of the aggregate's commands: a list's AddTodoItem warms its CompleteTodoItem.
    const cache = definition.stateCache && new AggregateStateCache<S>(definition.stateCache.maxAggregates, definition.stateCache.maxBytes);
    for (const key of Object.keys(definition.service) as (keyof D & string)[]) {
      const method = definition.service[key]!;
      const runner = method.requestStream ? uploadRunner(definition, key, this.options.blobs, cache) : commandRunner(definition, key, cache);
      this.link.handle({ method: methodName(method.path), loadFactor: 100, projection: "" }, runner);
    }
    return this;
  }

  /** A service: commands without a routing key, handled without state, answered with service events (services/). */
  addService<D extends ServiceDefinitionLike, C extends EventCodecs>(definition: ServiceDefinition<D, C>): this {
    for (const key of Object.keys(definition.service) as (keyof D & string)[]) {
      const method = definition.service[key]!;
      if (method.requestStream) throw new Error(`${methodName(method.path)} is an upload: a service handles unary commands only`);
      this.link.handle({ method: methodName(method.path), loadFactor: 100, projection: "" }, serviceRunner(definition, key, (m, request, options) => this.call(m, request, options)));
    }
    return this;
  }

  /** An observer: side effects of events, at least once, from its own checkpoint (consumer/observer-definition.ts). */
  addObserver<C extends EventCodecs>(definition: ObserverDefinition<C>, options: ReactorOptions = {}): this {
    // One name, one checkpoint: a projection or another observer under it would share the gateway's consumer.
    this.claimConsumerName(definition.name);
    const coalescing = this.coalescingOf(options);
    const handler = new ObserverHandler(definition, (method, request, options) => this.call(method, request, options), coalescing);
    this.reactors.set(definition.name, this.consumerClient(handler, definition.name, { deadEvents: options.deadEvents }));
    return this;
  }

  addQueries<D extends ServiceDefinitionLike>(definition: QueryDefinition<D>, loadFactor = 100): this {
    const projection = definition.projection ? this.consumerName(definition.projection) : "";
    for (const key of Object.keys(definition.service) as (keyof D & string)[]) {
      const method = definition.service[key]!;
      this.link.handle({ method: methodName(method.path), loadFactor, projection }, queryRunner(definition, key), method.responseStream);
      if (projection) this.queriesByProjection.set(projection, [...(this.queriesByProjection.get(projection) ?? []), methodName(method.path)]);
    }
    return this;
  }

  addProjection<C extends EventCodecs>(definition: ProjectionDefinition<C>, options: { deadEvents?: Partial<DeadEventSettings> } = {}): this {
    const consumer = this.consumerName(definition);
    // Two projectors under one consumer name would share, and fight over, one checkpoint.
    this.claimConsumerName(consumer);
    this.projectors.set(consumer, this.projector(definition, consumer, options.deadEvents));
    return this;
  }

  /**
   * The consumer client of a projection. Over a GenerationalViewStore, it opens at the store's generation, follows a
   * newer one the gateway names (a standby of a shared projection whose active instance switched), and rebuilds
   * the projection when the gateway asks (ProjectionAdminService/RebuildProjection).
   */
  private projector<C extends EventCodecs>(definition: ProjectionDefinition<C>, consumer: string, deadEvents?: Partial<DeadEventSettings>): ConsumerClient {
    const store = definition.store instanceof GenerationalViewStore ? definition.store : undefined;
    const generational = store && {
      generation: () => store.generation,
      onNewerGeneration: (generation: number) => store.follow(generation),
      onRebuildRequest: (generation: number) => this.rebuild(definition, consumer, store, generation, deadEvents),
    };
    return this.consumerClient(new ProjectionHandler(definition, consumer), consumer, { ...generational, deadEvents });
  }

  /** A consumer stream of this service: its address, identity, transport and logger; dead-event settings over the service's. */
  private consumerClient(handler: ConsumerEventHandler, consumer: string, extra: Partial<ConsumerClientOptions>): ConsumerClient {
    return new ConsumerClient(handler, {
      address: this.options.address,
      consumer,
      instanceId: this.instanceId,
      credentials: this.options.credentials,
      ...this.transport,
      logger: this.logger,
      ...extra,
      deadEvents: { ...this.options.deadEvents, ...extra.deadEvents },
    });
  }

  /** Runs a rebuild the gateway asked for, unless one runs already (the gateway answers that one to a second request). */
  private rebuild<C extends EventCodecs>(
    definition: ProjectionDefinition<C>,
    consumer: string,
    store: GenerationalViewStore,
    generation: number,
    deadEvents: Partial<DeadEventSettings> | undefined,
  ): void {
    const current = this.projectors.get(consumer);
    if (this.rebuilds.has(consumer) || current === undefined || this.stopping.signal.aborted || generation <= store.generation) return;
    const clients = new Set<ConsumerClient>();
    this.rebuilds.set(consumer, { generation, clients });
    // A client made after a drain started would never be drained: past that point the rebuild stops instead.
    const track = (client: ConsumerClient) => {
      if (this.stopping.signal.aborted) {
        client.close();
        throw new Error("the service is stopping");
      }
      clients.add(client);
      return client;
    };
    rebuildProjection({
      definition,
      consumer,
      store,
      generation,
      current,
      // Both streams keep the projection's own dead-event settings.
      rebuildClient: (handler, options) => track(this.consumerClient(handler, consumer, { ...options, deadEvents })),
      mainClient: () => track(this.projector(definition, consumer, deadEvents)),
      logger: this.logger,
    }).then(
      (next) => {
        if (this.stopping.signal.aborted) next.close();
        else this.projectors.set(consumer, next);
      },
      (thrown: unknown) => this.logger.error("projection rebuild failed", { consumer, generation, error: String(thrown) }),
    ).finally(() => this.rebuilds.delete(consumer));
  }

  /**
   * A saga: its events come on a consumer stream named for it (from `definition.checkpoints`), its instances' state
   * is kept by the gateway, and its commands leave through this service's link (sagas/saga-handler.ts).
   */
  addSaga<C extends EventCodecs, S>(definition: SagaDefinition<C, S>, options: ReactorOptions = {}): this {
    this.claimConsumerName(definition.name);
    const coalescing = this.coalescingOf(options);
    const states = new SagaStateClient({ address: this.options.address, credentials: this.options.credentials, ...this.transport });
    this.sagaStates.push(states);
    const handler = new SagaHandler(definition, states, (method, request, options) => this.call(method, request, options), coalescing);
    this.reactors.set(definition.name, this.consumerClient(handler, definition.name, { deadEvents: options.deadEvents }));
    return this;
  }

  /** An observer's or saga's checkpoint coalescing, checked: per consumer over the service's, over the defaults. */
  private coalescingOf(options: ReactorOptions): CheckpointCoalescing {
    return checkpointCoalescing({ ...this.options.checkpointCoalescing, ...options.checkpointCoalescing });
  }

  /** One name, one checkpoint: two consumers under one name would share, and fight over, the gateway's consumer. */
  private claimConsumerName(name: string): void {
    if (this.projectors.has(name) || this.reactors.has(name)) throw new Error(`a consumer named ${name} is added already`);
  }

  /** The consumer name the gateway knows a projection by: per instance when each process has its own views. */
  consumerName(projection: ProjectionRef): string {
    return projection.scope === "instance" ? `${projection.name}@${this.instanceId}` : projection.name;
  }

  /**
   * Connects; resolves once the gateway accepted every subscription. Commands are subscribed at once. Queries
   * that read a projection of this process are subscribed only once it has caught up with the store's head as
   * the gateway named it when the projection's stream opened (bounded by `catchUpTimeoutMs`): until then the
   * gateway routes them to other instances, or answers UNAVAILABLE, and its health for their service says so.
   */
  async start(): Promise<void> {
    const gated = [...this.queriesByProjection].filter(([projection]) => this.projectors.has(projection));
    for (const [, methods] of gated) for (const method of methods) this.link.hold(method);
    await Promise.all([...this.projectors.values()].map((p) => p.start()));
    // The link also carries this service's own calls to the mesh, so it is opened even with no handlers.
    await this.link.start();
    await Promise.all([...this.reactors.values()].map((o) => o.start()));
    await Promise.all(gated.map(([projection, methods]) => this.subscribeWhenCaughtUp(projection, methods)));
  }

  private async subscribeWhenCaughtUp(projection: string, methods: string[]): Promise<void> {
    const outcome = await waitForCatchUp(this.projectors.get(projection)!, {
      consumer: projection,
      timeoutMs: this.options.catchUpTimeoutMs ?? DEFAULT_CATCH_UP_TIMEOUT_MS,
      logger: this.logger,
      signal: this.stopping.signal,
    });
    if (outcome !== "stopped") await this.link.release(methods);
  }

  /**
   * Sends a command or a unary query to the mesh through this service's link, with a ts-proto method
   * definition: `mesh.call(TodoListCommandServiceService.createTodoList, { listId, name }, { commandId })`.
   * Fails with a MeshError carrying the gRPC status, exactly as a caller of the gateway would see it.
   */
  async call<M extends MethodDefinitionLike>(method: M, request: RequestOf<M>, options: CallOptions = {}): Promise<ResponseOf<M>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.commandId) headers["recq-command-id"] = options.commandId;
    if (options.consistencyToken) headers["recq-consistency-token"] = options.consistencyToken;
    const metadata = injectTraceContext(context.active(), {});
    const payload = (method.requestSerialize as (value: RequestOf<M>) => Buffer)(request);
    const answer = await this.link.call(methodName(method.path), payload, { headers, timeoutMs: options.timeoutMs, metadata });
    return method.responseDeserialize(answer) as ResponseOf<M>;
  }

  /** Graceful stop: no new work, work in flight finishes (bounded), then the streams close. */
  async drain(): Promise<void> {
    this.stopping.abort();
    // Together: a projector must not go on reconnecting while the link drains (the gateway may be stopping too).
    await Promise.all([this.link.drain(this.options.drainTimeoutMs ?? 10_000), ...this.consumerClients().map((p) => p.drain())]);
    for (const states of this.sagaStates) states.close();
  }

  /** Immediate stop, for tests that simulate a crash of the process's links. */
  close(): void {
    this.stopping.abort();
    this.link.close();
    for (const consumer of [...this.projectors.values(), ...this.reactors.values()]) void consumer.drain();
    for (const states of this.sagaStates) states.close();
    // A rebuild's streams go away at once, as in a crash: its new generation stays at its checkpoint.
    for (const rebuild of this.rebuilds.values()) for (const client of rebuild.clients) client.close();
  }

  /** The projections', observers' and sagas' clients, and those of the rebuilds in progress. */
  private consumerClients(): ConsumerClient[] {
    return [...new Set([...this.projectors.values(), ...this.reactors.values(), ...[...this.rebuilds.values()].flatMap((rebuild) => [...rebuild.clients])])];
  }
}

function methodName(path: string): string {
  return path.startsWith("/") ? path.slice(1) : path;
}
