import { randomUUID } from "node:crypto";
import { waitForCatchUp } from "./consumer/catch-up-wait";
import { ConsumerClient, type ConsumerClientOptions } from "./consumer/consumer-client";
import type { ConsumerEventHandler } from "./consumer/event-handler";
import { ProjectionHandler } from "./consumer/projection-handler";
import { rebuildProjection } from "./consumer/projection-rebuild";
import { GenerationalViewStore } from "./views/generational-view-store";
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
  /** Largest link message this process accepts (it tells the gateway in Hello). Default 64 MiB. */
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
  /** The projectors, by consumer name. */
  private readonly projectors = new Map<string, ConsumerClient>();
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
    const cache = definition.stateCache && new AggregateStateCache<S>(definition.stateCache.maxAggregates);
    for (const key of Object.keys(definition.service) as (keyof D & string)[]) {
      const method = definition.service[key]!;
      const runner = method.requestStream ? uploadRunner(definition, key, this.options.blobs, cache) : commandRunner(definition, key, cache);
      this.link.handle({ method: methodName(method.path), loadFactor: 100, projection: "" }, runner);
    }
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

  addProjection<C extends EventCodecs>(definition: ProjectionDefinition<C>): this {
    const consumer = this.consumerName(definition);
    // Two projectors under one consumer name would share, and fight over, one checkpoint.
    if (this.projectors.has(consumer)) throw new Error(`a projection named ${consumer} is added already`);
    this.projectors.set(consumer, this.projector(definition, consumer));
    return this;
  }

  /**
   * The consumer client of a projection. Over a GenerationalViewStore, it opens at the store's generation, follows a
   * newer one the gateway names (a standby of a shared projection whose active instance switched), and rebuilds
   * the projection when the gateway asks (ProjectionAdminService/RebuildProjection).
   */
  private projector<C extends EventCodecs>(definition: ProjectionDefinition<C>, consumer: string): ConsumerClient {
    const store = definition.store instanceof GenerationalViewStore ? definition.store : undefined;
    const generational = store && {
      generation: () => store.generation,
      onNewerGeneration: (generation: number) => store.follow(generation),
      onRebuildRequest: (generation: number) => this.rebuild(definition, consumer, store, generation),
    };
    return this.consumerClient(new ProjectionHandler(definition, consumer), consumer, generational ?? {});
  }

  private consumerClient(handler: ConsumerEventHandler, consumer: string, extra: Partial<ConsumerClientOptions>): ConsumerClient {
    return new ConsumerClient(handler, {
      address: this.options.address,
      consumer,
      instanceId: this.instanceId,
      credentials: this.options.credentials,
      ...this.transport,
      logger: this.logger,
      ...extra,
    });
  }

  /** Runs a rebuild the gateway asked for, unless one runs already (the gateway answers that one to a second request). */
  private rebuild<C extends EventCodecs>(definition: ProjectionDefinition<C>, consumer: string, store: GenerationalViewStore, generation: number): void {
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
      rebuildClient: (handler, options) => track(this.consumerClient(handler, consumer, options)),
      mainClient: () => track(this.projector(definition, consumer)),
      logger: this.logger,
    }).then(
      (next) => {
        if (this.stopping.signal.aborted) next.close();
        else this.projectors.set(consumer, next);
      },
      (thrown: unknown) => this.logger.error("projection rebuild failed", { consumer, generation, error: String(thrown) }),
    ).finally(() => this.rebuilds.delete(consumer));
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
  }

  /** Immediate stop, for tests that simulate a crash of the process's links. */
  close(): void {
    this.stopping.abort();
    this.link.close();
    for (const projector of this.projectors.values()) void projector.drain();
    // A rebuild's streams go away at once, as in a crash: its new generation stays at its checkpoint.
    for (const rebuild of this.rebuilds.values()) for (const client of rebuild.clients) client.close();
  }

  /** The projections' clients and those of the rebuilds in progress. */
  private consumerClients(): ConsumerClient[] {
    return [...new Set([...this.projectors.values(), ...[...this.rebuilds.values()].flatMap((rebuild) => [...rebuild.clients])])];
  }
}

function methodName(path: string): string {
  return path.startsWith("/") ? path.slice(1) : path;
}
