import { randomUUID } from "node:crypto";
import { ProjectorClient } from "./consumer/projector-client";
import { commandRunner } from "./handlers/command-runner";
import type { AggregateDefinition, EventCodecs, ProjectionDefinition, ProjectionRef, QueryDefinition, ServiceDefinitionLike } from "./handlers/definitions";
import { queryRunner } from "./handlers/query-runner";
import { LinkClient } from "./link/link-client";
import { silentLogger, type Logger } from "./logging/logger";

export interface MeshServiceOptions {
  /** The gateway, host:port. */
  address: string;
  /** Logical name of this service, e.g. `todo`. */
  component: string;
  /** Unique per process; default a random UUID. */
  instanceId?: string;
  /** The gateway's link token, when it requires one. */
  credentials?: string;
  logger?: Logger;
  /** Dispatches run at once (the permits granted). Default 256. */
  maxConcurrent?: number;
  /** How long a drain waits for work in flight. Default 10 s. */
  drainTimeoutMs?: number;
  /** Largest link message this process accepts (it tells the gateway in Hello). Default 64 MiB. */
  maxMessageBytes?: number;
}

/**
 * A process's membership of the mesh: register aggregates, queries and projections from ts-proto
 * definitions, then `start()`. One link carries every command and query; one consumer stream per projection.
 */
export class MeshService {
  readonly instanceId: string;
  private readonly link: LinkClient;
  private readonly projectors: ProjectorClient<EventCodecs>[] = [];
  private readonly logger: Logger;
  private hasHandlers = false;

  constructor(private readonly options: MeshServiceOptions) {
    this.instanceId = options.instanceId ?? randomUUID();
    this.logger = options.logger ?? silentLogger;
    this.link = new LinkClient({
      address: options.address,
      component: options.component,
      instanceId: this.instanceId,
      credentials: options.credentials,
      logger: this.logger,
      maxConcurrent: options.maxConcurrent,
      maxMessageBytes: options.maxMessageBytes,
    });
  }

  addAggregate<D extends ServiceDefinitionLike, S, C extends EventCodecs>(definition: AggregateDefinition<D, S, C>): this {
    for (const key of Object.keys(definition.service) as (keyof D & string)[]) {
      this.link.handle({ method: methodName(definition.service[key]!.path), loadFactor: 100, projection: "" }, commandRunner(definition, key));
    }
    this.hasHandlers = true;
    return this;
  }

  addQueries<D extends ServiceDefinitionLike>(definition: QueryDefinition<D>, loadFactor = 100): this {
    const projection = definition.projection ? this.consumerName(definition.projection) : "";
    for (const key of Object.keys(definition.service) as (keyof D & string)[]) {
      const method = definition.service[key]!;
      this.link.handle({ method: methodName(method.path), loadFactor, projection }, queryRunner(definition, key), method.responseStream);
    }
    this.hasHandlers = true;
    return this;
  }

  addProjection<C extends EventCodecs>(definition: ProjectionDefinition<C>): this {
    const projector = new ProjectorClient(definition, {
      address: this.options.address,
      consumer: this.consumerName(definition),
      instanceId: this.instanceId,
      credentials: this.options.credentials,
      logger: this.logger,
    });
    this.projectors.push(projector as unknown as ProjectorClient<EventCodecs>);
    return this;
  }

  /** The consumer name the gateway knows a projection by: per instance when each process has its own views. */
  consumerName(projection: ProjectionRef): string {
    return projection.scope === "instance" ? `${projection.name}@${this.instanceId}` : projection.name;
  }

  /** Connects; resolves once the gateway accepted every subscription. */
  async start(): Promise<void> {
    await Promise.all(this.projectors.map((p) => p.start()));
    if (this.hasHandlers) await this.link.start();
  }

  /** Graceful stop: no new work, work in flight finishes (bounded), then the streams close. */
  async drain(): Promise<void> {
    await this.link.drain(this.options.drainTimeoutMs ?? 10_000);
    await Promise.all(this.projectors.map((p) => p.drain()));
  }

  /** Immediate stop, for tests that simulate a crash of the process's links. */
  close(): void {
    this.link.close();
    for (const projector of this.projectors) void projector.drain();
  }
}

function methodName(path: string): string {
  return path.startsWith("/") ? path.slice(1) : path;
}
