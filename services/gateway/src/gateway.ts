import { ServerCredentials, status, type Server } from "@grpc/grpc-js";
import { protobufPackage as recqPackage } from "@recq-mesh/protocol/gen/recq/v1/link";
import { EventServiceService } from "@recq-mesh/protocol/gen/recq/v1/event_service";
import { MeshError, Reason, silentLogger, type Logger } from "@recq-mesh/protocol";
import { AcceptedExecutor } from "./accepted/accepted-executor";
import type { CommandInbox } from "./accepted/command-inbox";
import { admissionInterceptor, type AdmissionKind } from "./admission/admission-interceptor";
import { admissionControl } from "./admission/gateway-admission";
import type { AdmissionControl } from "./admission/admission-control";
import { HandlerEventCheck } from "./commands/handler-event-check";
import { CommandPipeline } from "./commands/command-pipeline";
import { defaultLimits, type GatewayLimits } from "./config";
import { ConsumerHub } from "./consumers/consumer-hub";
import { DEAD_EVENT_SERVICE_NAME, DeadEventService } from "./consumers/dead-events/dead-event-service";
import { ParkedChains } from "./consumers/dead-events/parked-chains";
import type { ParkedEventStore } from "./consumers/dead-events/parked-event-store";
import { VolatileParkedEventStore } from "./consumers/dead-events/volatile-parked-event-store";
import { ProjectionPositions } from "./consumers/projection-positions";
import { PROJECTION_ADMIN_SERVICE_NAME, ProjectionAdminService } from "./consumers/rebuilds/projection-admin-service";
import { EventService } from "./events/event-service";
import { knownEventNames } from "./events/known-event-names";
import type { DescriptorCatalog, ServiceEntry } from "./descriptors/descriptor-catalog";
import { addHealthService, HEALTH_SERVICE_NAME, HealthRegistry } from "./health/health-service";
import { GatewayLinkService } from "./links/event-wire-cache";
import type { LinkCallRunner } from "./links/link-calls";
import { LinkService } from "./links/link-service";
import { QueryRelay } from "./queries/query-relay";
import { addReflectionService, REFLECTION_V1_SERVICE_NAME } from "./reflection/reflection-service";
import { Dispatcher } from "./routing/dispatcher";
import { MethodRouter } from "./routing/method-router";
import { OutcomeReader } from "./outcomes/outcome-reader";
import { OUTCOME_SERVICE_NAME, OutcomeService } from "./outcomes/outcome-service";
import { OutcomeSignals } from "./outcomes/outcome-signals";
import { CallTracker } from "./server/call-tracker";
import { ChannelListeners } from "./channels/channel-listeners";
import { LISTEN_PATH, OPEN_PATH, OPEN_REQUEST_ENVELOPE_BYTES, REPLY_CHANNEL_SERVICE_NAME, ReplyChannelService } from "./channels/reply-channel-service";
import { callerLimitsInterceptor } from "./server/caller-limits";
import { SAGA_STATE_SERVICE_NAME, SagaStateService } from "./sagas/saga-state-service";
import { SagaStates } from "./sagas/saga-states";
import { SagaStateServiceService } from "@recq-mesh/protocol/gen/recq/v1/sagas";
// Types only: the HTTP port and its packages (Connect) are loaded when one is configured (startHttpPort).
import type { HttpPort, HttpPortOptions } from "./http/http-port";
import { RecordingServer } from "./http/recording-server";
import { domainService } from "./server/domain-methods";
import { Uploads } from "./uploads/uploads";
import { adminCheck } from "./security/admin-access";
import type { CallerAuthorization } from "./security/caller-authorization";
import { authorizedMethod } from "./http/authorized-method";
import type { ServedMethod } from "./http/recording-server";
import { callerInterceptor, type CallerCheck } from "./security/caller-interceptor";
import type { CallerIdentity } from "./security/caller-identity";
import type { ComponentAuthorization } from "./security/component-authorization";
import { ON_A_REPLY_CHANNEL, OVER_A_LINK, unaryCallRunner } from "./server/unary-call-runner";
import type { EventStore } from "./store/event-store";

export interface GatewayOptions {
  /** host:port; port 0 picks a free one. */
  address: string;
  catalog: DescriptorCatalog;
  store: EventStore;
  /**
   * Where accepted (`recq-mode: async`) commands are kept until they have run; the gateway closes it on stop.
   * Without one, `recq-mode: async` is refused with UNIMPLEMENTED.
   */
  inbox?: CommandInbox;
  /**
   * Where the dead-event queue keeps parked events (docs/components.md); the gateway closes it on stop. Without one
   * they are kept in memory only (VolatileParkedEventStore).
   */
  parkedEvents?: ParkedEventStore;
  linkToken?: string;
  clientToken?: string;
  /**
   * The admin services' token (recq.v1.DeadEventService, recq.v1.ProjectionAdminService): when set, they take it
   * alone, not `clientToken`; unset, they take `clientToken` as every call does (security/admin-access.ts).
   */
  adminToken?: string;
  /** Token of event subscribers; see EventPermissionTokens for the rule when it is unset. */
  eventsToken?: string;
  limits?: Partial<GatewayLimits>;
  logger?: Logger;
  /** The HTTP port (Connect, gRPC-Web, Server-Sent Events: docs/web.md); none without it. */
  http?: HttpPortOptions;
  /** How the port is served: TLS (security/certificate-files.ts) or, by default, plaintext. */
  credentials?: ServerCredentials;
  /**
   * Callers' authentication and permissions (the security file's `callers`); without it, the tokens above (the
   * simple mode).
   */
  callers?: CallerAuthorization;
  /** Components' identities and grants (the security file's `components`); without it, `linkToken` (the simple mode). */
  components?: ComponentAuthorization;
}

const HANDLER_LINK_SERVICE_NAME = `${recqPackage}.HandlerLinkService`;
// v1alpha is served too, but not listed: the descriptor set has no v1alpha file for a client to describe.
const EVENT_SERVICE_NAME = `${recqPackage}.EventService`;
/** The caller services of recq.v1 the HTTP port serves besides the domain services (ReplyChannelService: Listen only). */
const HTTP_PROTOCOL_SERVICES = [OUTCOME_SERVICE_NAME, EVENT_SERVICE_NAME, REPLY_CHANNEL_SERVICE_NAME, DEAD_EVENT_SERVICE_NAME, PROJECTION_ADMIN_SERVICE_NAME];
const LISTED_PROTOCOL_SERVICES = [
  HEALTH_SERVICE_NAME,
  REFLECTION_V1_SERVICE_NAME,
  HANDLER_LINK_SERVICE_NAME,
  OUTCOME_SERVICE_NAME,
  REPLY_CHANNEL_SERVICE_NAME,
  EVENT_SERVICE_NAME,
  DEAD_EVENT_SERVICE_NAME,
  SAGA_STATE_SERVICE_NAME,
  PROJECTION_ADMIN_SERVICE_NAME,
];

/**
 * The Message Gateway: serves every domain service of the descriptor set, routes each call over a handler
 * link, keeps the event store, streams events to projectors, and serves health and reflection.
 */
export class Gateway {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly calls: CallTracker,
    private readonly links: LinkService,
    private readonly consumers: ConsumerHub,
    private readonly events: EventService,
    private readonly channels: ReplyChannelService,
    private readonly health: HealthRegistry,
    private readonly store: EventStore,
    private readonly parkedEvents: ParkedEventStore,
    private readonly accepted: { executor: AcceptedExecutor; inbox: CommandInbox } | undefined,
    private readonly outcomes: OutcomeService,
    private readonly limits: GatewayLimits,
    private readonly logger: Logger,
    /** The HTTP port, when the gateway has one. */
    readonly http: HttpPort | undefined,
  ) {}

  static async start(options: GatewayOptions): Promise<Gateway> {
    const limits = { ...defaultLimits, ...options.limits };
    const logger = options.logger ?? silentLogger;
    const { catalog, store } = options;
    const { admission, onRoundTrip } = admissionControl(limits, logger);
    const server = grpcServer(options, limits, admission, logger);
    const router = new MethodRouter({ maxAffinityEntries: limits.maxAffinityEntries });
    const dispatcher = new Dispatcher(router, onRoundTrip);
    const positions = new ProjectionPositions();
    const commands = new CommandPipeline(store, dispatcher, {
      maxConflictRetries: limits.maxConflictRetries,
      maxQueuedPerAggregate: limits.maxQueuedPerAggregate,
      maxQueuedCommands: limits.maxQueuedCommands,
      aggregateCacheSize: limits.aggregateCacheSize,
      maxRoutingKeyBytes: limits.maxRoutingKeyBytes,
      eventCheck: new HandlerEventCheck(catalog.registry),
    }, logger);
    const queries = new QueryRelay(dispatcher, positions, limits.streamAnswerWindow);
    const uploads = new Uploads({ maxChunkBytes: limits.maxUploadChunkBytes, maxUploadBytes: limits.maxUploadBytes, maxUploads: limits.maxUploads });
    const signals = new OutcomeSignals();
    commands.observe(signals);
    const backlog = { maxAnswers: limits.maxBufferedAnswers, maxBytes: limits.maxBufferedAnswerBytes, maxUnreadMs: limits.maxUnreadMs };
    const listeners = new ChannelListeners(backlog, logger);
    const executor = options.inbox && new AcceptedExecutor(options.inbox, store, commands, catalog, signals, listeners, {
      maxAcceptedCommands: limits.maxAcceptedCommands,
      maxAcceptedBytes: limits.maxAcceptedBytes,
      acceptedConcurrency: limits.acceptedConcurrency,
      acceptedCommandTtlMs: limits.acceptedCommandTtlMs,
      attemptTimeoutMs: limits.maxCallMsWithoutDeadline,
    }, logger);
    const outcomes = new OutcomeService(new OutcomeReader(store, commands, executor), signals, {
      clientToken: options.clientToken,
      maxCallMsWithoutDeadline: limits.maxCallMsWithoutDeadline,
      maxWatches: limits.maxOutcomeWatches,
    });
    const calls = new CallTracker();
    const domainOptions = {
      maxRequestBytes: limits.maxRequestBytes,
      maxCallMsWithoutDeadline: limits.maxCallMsWithoutDeadline,
      clientToken: options.clientToken,
      backlog,
    };
    const paths = { catalog, commands, queries, replyChannels: listeners };
    const channels = new ReplyChannelService({
      run: unaryCallRunner(paths, limits.maxRequestBytes, ON_A_REPLY_CHANNEL),
      listeners,
      admission,
      calls,
      options: {
        clientToken: options.clientToken,
        maxInFlight: limits.maxChannelRequestsInFlight,
        maxCallMsWithoutDeadline: limits.maxCallMsWithoutDeadline,
        backlog: domainOptions.backlog,
      },
      authorizeRequest: options.callers && authorizeChannelRequest(options.callers),
    });
    channels.addTo(server);
    for (const service of catalog.services) {
      const { definition, implementation } = domainService(service, { calls, commands, accepted: executor, queries, replyChannels: listeners, uploads, options: domainOptions });
      server.addService(definition, implementation);
    }
    const links = linkService(options, router, unaryCallRunner(paths, limits.maxRequestBytes, OVER_A_LINK), limits, admission, logger);
    const parkedEvents = options.parkedEvents ?? new VolatileParkedEventStore();
    const parked = await ParkedChains.open(parkedEvents, { maxPerConsumer: limits.maxParkedEventsPerConsumer, maxErrorBytes: limits.maxParkedErrorBytes });
    const health = new HealthRegistry();
    const consumers = new ConsumerHub(store, positions, { linkToken: options.linkToken, components: options.components, readBatchSize: limits.consumerReadBatch, parked, health }, logger);
    server.addService(GatewayLinkService, { connect: links.connect, consume: consumers.consume });
    const admin = adminCheck({ adminToken: options.adminToken, clientToken: options.clientToken });
    new DeadEventService(consumers.deadEvents, consumers, store, { admit: admin, pageSize: limits.deadEventPageSize }).register(server);
    new ProjectionAdminService(consumers, admin).register(server);
    outcomes.register(server);
    sagaStateService(options, limits).register(server);
    const events = eventService(options, limits, logger);
    server.addService(EventServiceService, { subscribeEvents: events.subscribeEvents });
    addHealthService(server, health);
    const served = [...catalog.services.map((s) => s.fullName), ...LISTED_PROTOCOL_SERVICES];
    addReflectionService(server, catalog, () => served);
    trackServiceHealth(catalog.services, router, health);
    // A handler linked: accepted commands waiting for one run now rather than after their backoff.
    if (executor !== undefined) {
      router.onChange((path) => {
        if (router.hasRoute(path)) executor.wake();
      });
    }
    health.setStatus("", "SERVING");
    // What the inbox holds from before (a restart, a crash) is queued before the first new acceptance.
    await executor?.start();
    const port = await bind(server, options.address, options.credentials ?? ServerCredentials.createInsecure()).catch(async (error: unknown) => {
      await executor?.stop();
      throw error;
    });
    logger.info("gateway listening", { address: options.address, port, services: catalog.services.map((s) => s.fullName) });
    const http = options.http && (await startHttpPort(options.http, server, catalog, admission, limits, logger, options.callers).catch(async (error: unknown) => {
      server.forceShutdown();
      await executor?.stop();
      throw error;
    }));
    const accepted = executor && options.inbox && { executor, inbox: options.inbox };
    return new Gateway(server, port, calls, links, consumers, events, channels, health, store, parkedEvents, accepted, outcomes, limits, logger, http);
  }

  /** The accepted-command executor (how many commands it holds); undefined without an inbox. */
  get acceptedCommands(): AcceptedExecutor | undefined {
    return this.accepted?.executor;
  }

  get handlerLinkCount(): number {
    return this.links.linkCount;
  }

  /** Clients' event subscriptions (recq.v1.EventService) open now. */
  get eventSubscriptionCount(): number {
    return this.events.subscriptionCount;
  }

  /** ReplyChannelService.Open streams open now. */
  get replyStreamCount(): number {
    return this.channels.openStreams;
  }

  /** Stops taking calls, lets those in flight finish within the grace period, then ends links and the store. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.health.shutdown();
    // Accepted commands are durable: running ones are cancelled and run again (or found finished) at the next start.
    await this.accepted?.executor.stop();
    const httpClosed = this.http?.close(this.limits.shutdownGraceMs);
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.endStreams();
        this.server.forceShutdown();
        resolve();
      }, this.limits.shutdownGraceMs);
      force.unref();
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
      // Links, consumer streams and event subscriptions never end by themselves: end them once the callers' calls are answered.
      void this.calls.idle().then(() => this.endStreams());
    });
    await httpClosed;
    await this.accepted?.inbox.close();
    await this.parkedEvents.close();
    await this.store.close();
    this.logger.info("gateway stopped");
  }

  private endStreams(): void {
    const error = new MeshError(status.UNAVAILABLE, "the gateway is shutting down", Reason.SHUTTING_DOWN);
    this.links.closeAll(error);
    this.consumers.close();
    this.outcomes.closeAll(error);
    this.events.close();
    this.channels.closeAll(error);
    this.http?.endStreams();
  }
}

/**
 * The gRPC server, with the callers' limits as its own and its interceptors in order: the callers' limits, the
 * callers' credentials (when a security file sets them), then admission.
 */
function grpcServer(options: GatewayOptions, limits: GatewayLimits, admission: AdmissionControl, logger: Logger): RecordingServer {
  return new RecordingServer({
    // The callers' limits are the server's; the caller-limits interceptor gives the link service's methods the
    // link limit, and callers' requests their arrival clock (docs/configuration.md, "Callers and links on one port").
    "grpc.max_receive_message_length": limits.maxRequestBytes,
    "grpc.max_send_message_length": limits.maxLinkMessageBytes,
    "grpc.max_concurrent_streams": limits.maxStreamsPerConnection,
    "grpc.max_connection_idle_ms": limits.maxConnectionIdleMs,
    interceptors: [
      callerLimitsInterceptor(
        {
          maxRequestBytes: limits.maxRequestBytes,
          maxRequestArrivalMs: limits.maxRequestArrivalMs,
          maxLinkMessageBytes: limits.maxLinkMessageBytes,
          linkMethodPaths: new Set(Object.values(GatewayLinkService).map((method) => method.path)),
          envelopeStreams: { paths: new Set([OPEN_PATH]), maxMessageBytes: limits.maxRequestBytes + OPEN_REQUEST_ENVELOPE_BYTES },
        },
        logger,
      ),
      // Before admission: a caller refused for its credentials takes no slot.
      ...(options.callers === undefined ? [] : [callerInterceptor(options.callers, callerCheckOf)]),
      // After the caller limits, so that it sees the call they have set up: overload is refused once a request has
      // arrived, before its handler runs (admission-interceptor.ts).
      admissionInterceptor(admission, (path) => admissionKind(options.catalog, path)),
    ],
    // Handlers ping idle links (the kit's LINK_KEEPALIVE) to find half-open connections: allow it.
    "grpc.keepalive_permit_without_calls": 1,
    // channelz bookkeeping costs ~3% of the gateway's CPU per call (profiled); nothing here reads it.
    "grpc.enable_channelz": 0,
  });
}

/** Clients' event subscriptions (events/), held to the events token, not the callers'. */
function eventService(options: GatewayOptions, limits: GatewayLimits, logger: Logger): EventService {
  return new EventService(
    options.store,
    knownEventNames(options.catalog),
    {
      eventsToken: options.eventsToken,
      clientToken: options.clientToken,
      readBatch: limits.eventReadBatch,
      maxUnreadMs: limits.maxUnreadMs,
      maxSubscriptions: limits.maxEventSubscriptions,
      maxFilterTypes: limits.maxEventFilterTypes,
    },
    logger,
  );
}

/** Saga handlers' state (sagas/), in the event store, for components as their consumer streams are. */
function sagaStateService(options: GatewayOptions, limits: GatewayLimits): SagaStateService {
  const states = new SagaStates(options.store, { maxStateBytes: limits.maxSagaStateBytes, maxAssociationBytes: limits.maxRoutingKeyBytes });
  return new SagaStateService(states, { linkToken: options.linkToken, components: options.components });
}

/** The handler links: routes learnt from components' subscriptions, and the calls they make over their links. */
function linkService(options: GatewayOptions, router: MethodRouter, runCall: LinkCallRunner, limits: GatewayLimits, admission: AdmissionControl, logger: Logger): LinkService {
  return new LinkService(
    { isDomainMethod: (path) => options.catalog.methodByPath(path) !== undefined },
    router,
    {
      linkToken: options.linkToken,
      components: options.components,
      heartbeatIntervalMs: limits.heartbeatIntervalMs,
      maxQueuedDispatches: limits.maxQueuedPerLink,
      maxMessageBytes: limits.maxLinkMessageBytes,
      maxCallsPerLink: limits.maxCallsPerLink,
      maxCallMsWithoutDeadline: limits.maxCallMsWithoutDeadline,
      admission,
    },
    logger,
    runCall,
  );
}

function startHttpPort(
  options: HttpPortOptions,
  server: RecordingServer,
  catalog: DescriptorCatalog,
  admission: AdmissionControl,
  limits: GatewayLimits,
  logger: Logger,
  callers: CallerAuthorization | undefined,
): Promise<HttpPort> {
  const authorized = new Map<string, ServedMethod>();
  const served = (path: string) => {
    const method = server.served(path);
    if (method === undefined || callers === undefined) return method;
    let held = authorized.get(path);
    if (held === undefined) authorized.set(path, (held = authorizedMethod(method, callers)));
    return held;
  };
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only for a gateway with an HTTP port
  const { HttpPort } = require("./http/http-port") as typeof import("./http/http-port");
  return HttpPort.start(options, {
    catalog,
    services: [...catalog.services.map((s) => s.fullName), ...HTTP_PROTOCOL_SERVICES],
    served,
    admission,
    admissionKind: (path) => admissionKind(catalog, path),
    maxRequestBytes: limits.maxRequestBytes,
    maxUploadChunkBytes: limits.maxUploadChunkBytes,
    maxRequestArrivalMs: limits.maxRequestArrivalMs,
    maxStreamsPerConnection: limits.maxStreamsPerConnection,
    maxConnectionIdleMs: limits.maxConnectionIdleMs,
    logger,
  });
}

/** Callers' domain calls are admitted; the gateway's own services (links, health, reflection) are not. */
function admissionKind(catalog: DescriptorCatalog, path: string): AdmissionKind {
  if (path === LISTEN_PATH) return "subscription";
  const method = catalog.methodByPath(path);
  // Uploads are bounded by their own count (RECQ_MAX_UPLOADS): admission admits one request message per call.
  if (method === undefined || method.clientStreaming) return undefined;
  return method.serverStreaming ? "subscription" : "call";
}

const COMPONENT_METHOD_PATHS = new Set<string>([...Object.values(GatewayLinkService), ...Object.values(SagaStateServiceService)].map((method) => method.path));

/**
 * Handler links, consumer streams and saga state are components' (links/link-service.ts, sagas/); Open's requests
 * are checked one by one.
 */
function callerCheckOf(path: string): CallerCheck {
  if (path === OPEN_PATH) return "authenticate";
  return COMPONENT_METHOD_PATHS.has(path) ? "none" : "authorize";
}

/** A request on a reply channel is held to its own method's permission, as the same call made alone would be. */
function authorizeChannelRequest(callers: CallerAuthorization) {
  return (caller: CallerIdentity | undefined, method: string): void => {
    if (caller === undefined) throw new MeshError(status.UNAUTHENTICATED, "credentials are required", Reason.UNAUTHENTICATED);
    callers.check(caller, method);
  };
}

/** A domain service is SERVING while every one of its methods has a handler linked. */
function trackServiceHealth(services: readonly ServiceEntry[], router: MethodRouter, health: HealthRegistry): void {
  const update = (service: ServiceEntry) =>
    health.setStatus(service.fullName, service.methods.every((m) => router.hasRoute(m.path)) ? "SERVING" : "NOT_SERVING");
  for (const service of services) update(service);
  router.onChange((path) => {
    const service = services.find((s) => s.methods.some((m) => m.path === path));
    if (service) update(service);
  });
}

function bind(server: Server, address: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port)));
  });
}
