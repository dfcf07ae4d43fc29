import path from "node:path";
import { parseArgs } from "node:util";
import { MAX_MONGODB_COMMIT_TIMEOUT_MS } from "@recq-mesh/protocol";
import { defaultHttpHeartbeatMs, type HttpPortOptions } from "./http/http-port-options";
import { DEFAULT_CONNECTION_TIMEOUTS, type ConnectionTimeouts } from "./http/connection-timeouts";
import { isLoopback, transportSecurityFromEnv, type TransportSecurity } from "./security/tls-settings";
import { readSecurityPolicy, type SecurityPolicy } from "./security/security-policy";
import { jwksSettingsFromEnv, type JwksSettings } from "./security/jwks-settings";

/** Everything the gateway can be told, with its default. Flags win over environment variables. */
export interface GatewayConfig {
  /** host:port to listen on. `--address`, `RECQ_ADDRESS`; default 127.0.0.1:50051. */
  address: string;
  /**
   * The FileDescriptorSets of the contracts to serve, one or more: `--descriptors` (repeatable, or a
   * comma-separated list), `RECQ_DESCRIPTORS` (comma-separated); default dist/descriptors.binpb. A folder stands
   * for every `*.binpb` file in it. The gateway adds the health and reflection descriptors itself.
   */
  descriptorsPaths: string[];
  /** Embedded store's folder. `--data-dir`, `RECQ_DATA_DIR`; default ./data/gateway. */
  dataDir: string;
  /** Shared token handlers present in Hello / ConsumerOpen. `RECQ_LINK_TOKEN`; default none (open). */
  linkToken: string | undefined;
  /** Token callers present as `authorization: Bearer …`. `RECQ_CLIENT_TOKEN`; default none (open). */
  clientToken: string | undefined;
  /**
   * Token of the admin services (recq.v1.DeadEventService, recq.v1.ProjectionAdminService), presented as
   * `authorization: Bearer …`; when set, they refuse the callers' token. `RECQ_ADMIN_TOKEN`; default none: they take
   * the callers' token as every call does (open on an open gateway).
   */
  adminToken: string | undefined;
  /**
   * Token event subscribers (recq.v1.EventService) present as `authorization: Bearer …`. `RECQ_EVENTS_TOKEN`;
   * default none: open when no caller token is set either, closed when one is (a caller token never grants events).
   */
  eventsToken: string | undefined;
  /**
   * A stable name of this gateway among those sharing one MongoDB database. `RECQ_GATEWAY_ID`; default none (a
   * random one per process). Named, a restarted gateway takes back the accepted commands its previous run left at
   * once; unnamed, they wait until their lease runs out (30 s). Never give two gateways running at once one name.
   */
  gatewayId: string | undefined;
  limits: GatewayLimits;
  /**
   * The HTTP port (docs/web.md): `--http-address`, `RECQ_HTTP_ADDRESS`; default none (no HTTP port; `npm start` sets
   * 127.0.0.1:8080). `RECQ_HTTP_ALLOWED_ORIGINS`: origins browsers may call from, comma-separated, `*` for any;
   * default none. `RECQ_HTTP_HEARTBEAT_MS`: a comment on idle Server-Sent Events streams this often; default 15 s.
   * `RECQ_HTTP_PAGE=1`: the TodoList page at `/`; default off. `RECQ_HTTP_PROTOCOL_TIMEOUT_MS`,
   * `RECQ_HTTP_HEADERS_TIMEOUT_MS`, `RECQ_HTTP_IDLE_TIMEOUT_MS`, `RECQ_HTTP2_IDLE_TIMEOUT_MS`: bounds on slow clients
   * (docs/web.md, Slow clients).
   */
  http: HttpPortOptions | undefined;
  /** TLS on the port, or plaintext (RECQ_TLS_* and RECQ_ALLOW_PLAINTEXT; security/tls-settings.ts, docs/security.md). */
  transport: TransportSecurity;
  /** Callers' and components' identities and permissions (RECQ_SECURITY_FILE; docs/security.md); unset: the simple mode. */
  security: SecurityPolicy | undefined;
  /** How the security file's JWKS (URL or file) is kept current (RECQ_JWKS_*; security/jwks-settings.ts, docs/security.md). */
  jwks: JwksSettings;
}

/** Every limit of the gateway, explicit. Environment variable names in parentheses. */
export interface GatewayLimits {
  /** Largest request from a caller (RECQ_MAX_REQUEST_BYTES): 4 MiB. */
  maxRequestBytes: number;
  /** Largest link message the gateway receives (RECQ_MAX_LINK_MESSAGE_BYTES): 64 MiB. */
  maxLinkMessageBytes: number;
  /** How long a caller's request may take to arrive whole, from its headers (RECQ_MAX_REQUEST_ARRIVAL_MS): 10 s. */
  maxRequestArrivalMs: number;
  /** Streams open at once on one connection (RECQ_MAX_STREAMS_PER_CONNECTION): 1,000; more → REFUSED_STREAM. */
  maxStreamsPerConnection: number;
  /** A connection with no stream open for this long is closed with GOAWAY (RECQ_MAX_CONNECTION_IDLE_MS): 5 min. */
  maxConnectionIdleMs: number;
  /** A call without a deadline gets DEADLINE_EXCEEDED after (RECQ_MAX_CALL_MS): 30 s. */
  maxCallMsWithoutDeadline: number;
  /** Heartbeat interval on links (RECQ_HEARTBEAT_MS): 10 s; a link silent for 3 intervals is closed. */
  heartbeatIntervalMs: number;
  /** Dispatches queued per link while it has no permits (RECQ_MAX_QUEUED_PER_LINK): 10,000. */
  maxQueuedPerLink: number;
  /** Commands queued per aggregate (RECQ_MAX_QUEUED_PER_AGGREGATE): 1,000. */
  maxQueuedPerAggregate: number;
  /** Commands queued in the gateway in all (RECQ_MAX_QUEUED_COMMANDS): 100,000. */
  maxQueuedCommands: number;
  /** Redispatches after an append conflict (RECQ_MAX_CONFLICT_RETRIES): 3. */
  maxConflictRetries: number;
  /** Aggregates whose history is cached (RECQ_AGGREGATE_CACHE_SIZE): 10,000. */
  aggregateCacheSize: number;
  /** Routing keys that remember their instance (RECQ_MAX_AFFINITY_ENTRIES): 100,000. */
  maxAffinityEntries: number;
  /** Events read per catch-up step of a consumer (RECQ_CONSUMER_READ_BATCH): 500. */
  consumerReadBatch: number;
  /** Grace period for calls in flight at shutdown (RECQ_SHUTDOWN_GRACE_MS): 5 s. */
  shutdownGraceMs: number;
  /** How long a command id's outcome is kept for deduplication (RECQ_OUTCOME_RETENTION_MS): 24 h. */
  outcomeRetentionMs: number;
  /** Events one command may append (RECQ_MAX_EVENTS_PER_COMMAND): 1,000. */
  maxEventsPerCommand: number;
  /** Bytes of one event's payload, or a snapshot's (RECQ_MAX_EVENT_BYTES): 4 MiB. */
  maxEventBytes: number;
  /** Answers of a streaming query waiting for a slow caller (RECQ_MAX_BUFFERED_ANSWERS): 1,000. */
  maxBufferedAnswers: number;
  /** Their bytes (RECQ_MAX_BUFFERED_ANSWER_BYTES): 8 MiB. */
  maxBufferedAnswerBytes: number;
  /** How long a slow caller's answers may wait with none taken (RECQ_MAX_UNREAD_MS): 30 s. */
  maxUnreadMs: number;
  /** Calls one handler service may have running through its link (RECQ_MAX_CALLS_PER_LINK): 10,000. */
  maxCallsPerLink: number;
  /** Bytes of a command's routing key, UTF-8 (RECQ_MAX_ROUTING_KEY_BYTES): 512. Longer → INVALID_ARGUMENT. */
  maxRoutingKeyBytes: number;
  /** Callers' unary calls in flight at once: the adaptive limit's start and ceiling (RECQ_MAX_CALLS_IN_FLIGHT): 10,000. */
  maxCallsInFlight: number;
  /** The adaptive limit's floor (RECQ_MIN_CALLS_IN_FLIGHT): 32, or the ceiling if that is lower. Equal to the ceiling, the limit is fixed. */
  minCallsInFlight: number;
  /** Round trips up to this percentage of their method's usual one are not congestion (RECQ_ADMISSION_TOLERANCE_PERCENT): 300. */
  admissionTolerancePercent: number;
  /** Subscriptions (server-streaming queries) open at once (RECQ_MAX_SUBSCRIPTIONS): 10,000. */
  maxSubscriptions: number;
  /** Event subscriptions (recq.v1.EventService) open at once, counted apart from the others (RECQ_MAX_EVENT_SUBSCRIPTIONS): 1,000. */
  maxEventSubscriptions: number;
  /** Event types one event subscription's filter may list (RECQ_MAX_EVENT_FILTER_TYPES): 100. */
  maxEventFilterTypes: number;
  /** Events read from the store per step of an event subscription, the most one holds (RECQ_EVENT_READ_BATCH): 100. */
  eventReadBatch: number;
  /** Bytes of recent records the embedded store keeps decoded in memory (RECQ_STORE_CACHE_BYTES): 32 MiB. */
  storeCacheBytes: number;
  /**
   * Requests one reply-channel stream (ReplyChannelService.Open) may have running at once
   * (RECQ_MAX_CHANNEL_REQUESTS_IN_FLIGHT): 100. At the limit the gateway stops reading that stream until one is answered.
   */
  maxChannelRequestsInFlight: number;
  /**
   * How long the MongoDB store's group-commit transaction may take, retries and majority wait included, and how long
   * the inbox's and the parked events' writes wait for a majority (RECQ_MONGODB_COMMIT_TIMEOUT_MS): 10 s.
   */
  mongoCommitTimeoutMs: number;
  /** Accepted (`recq-mode: async`) commands waiting or running (RECQ_MAX_ACCEPTED_COMMANDS): 100,000. More → RESOURCE_EXHAUSTED. */
  maxAcceptedCommands: number;
  /** Their bytes in memory (RECQ_MAX_ACCEPTED_BYTES): 256 MiB. More → RESOURCE_EXHAUSTED. */
  maxAcceptedBytes: number;
  /** Accepted commands executing at once, at most one per aggregate (RECQ_ACCEPTED_CONCURRENCY): 64. */
  acceptedConcurrency: number;
  /** How long after acceptance a command is still tried; then it fails for good (RECQ_ACCEPTED_COMMAND_TTL_MS): 1 h. */
  acceptedCommandTtlMs: number;
  /** WatchOutcome streams open at once (RECQ_MAX_OUTCOME_WATCHES): 10,000. More → RESOURCE_EXHAUSTED. */
  maxOutcomeWatches: number;
  /** Bytes of one message of an upload (client-streaming command), the first included (RECQ_MAX_UPLOAD_CHUNK_BYTES): 1 MiB. */
  maxUploadChunkBytes: number;
  /** Bytes of all the messages of one upload (RECQ_MAX_UPLOAD_BYTES): 1 GiB. More → RESOURCE_EXHAUSTED. */
  maxUploadBytes: number;
  /** Uploads running at once (RECQ_MAX_UPLOADS): 16. More → RESOURCE_EXHAUSTED. */
  maxUploads: number;
  /** Answers a streaming query's handler may send ahead of what its caller has taken (RECQ_STREAM_ANSWER_WINDOW): 16. */
  streamAnswerWindow: number;
  /**
   * Parked events one consumer may hold (RECQ_MAX_PARKED_EVENTS_PER_CONSUMER): 10,000. One more stops the consumer:
   * its stream fails with RESOURCE_EXHAUSTED (PARKED_EVENTS_FULL) and the event stays unhandled where it was.
   */
  maxParkedEventsPerConsumer: number;
  /** Parked events one ListParkedEvents answer carries at most (RECQ_DEAD_EVENT_PAGE_SIZE): 100. */
  deadEventPageSize: number;
  /**
   * Bytes of a parked event's error text as kept (RECQ_MAX_PARKED_ERROR_BYTES): 4 KiB, at least 64. A longer
   * ConsumeFailure.error is cut between characters and says so; it bounds the store and a ListParkedEvents page.
   */
  maxParkedErrorBytes: number;
  /** Bytes of one saga instance's state (RECQ_MAX_SAGA_STATE_BYTES): 1 MiB. More → INVALID_ARGUMENT, reason SAGA_STATE_TOO_LARGE. */
  maxSagaStateBytes: number;
}

export const defaultLimits: GatewayLimits = {
  maxRequestBytes: 4 * 1024 * 1024,
  maxLinkMessageBytes: 64 * 1024 * 1024,
  maxRequestArrivalMs: 10_000,
  maxStreamsPerConnection: 1_000,
  maxConnectionIdleMs: 5 * 60 * 1000,
  maxCallMsWithoutDeadline: 30_000,
  heartbeatIntervalMs: 10_000,
  maxQueuedPerLink: 10_000,
  maxQueuedPerAggregate: 1_000,
  maxQueuedCommands: 100_000,
  maxConflictRetries: 3,
  aggregateCacheSize: 10_000,
  maxAffinityEntries: 100_000,
  consumerReadBatch: 500,
  shutdownGraceMs: 5_000,
  outcomeRetentionMs: 24 * 60 * 60 * 1000,
  maxEventsPerCommand: 1_000,
  maxEventBytes: 4 * 1024 * 1024,
  maxBufferedAnswers: 1_000,
  maxBufferedAnswerBytes: 8 * 1024 * 1024,
  maxUnreadMs: 30_000,
  maxCallsPerLink: 10_000,
  maxRoutingKeyBytes: 512,
  maxCallsInFlight: 10_000,
  minCallsInFlight: 32,
  admissionTolerancePercent: 300,
  maxSubscriptions: 10_000,
  maxEventSubscriptions: 1_000,
  maxEventFilterTypes: 100,
  eventReadBatch: 100,
  storeCacheBytes: 32 * 1024 * 1024,
  mongoCommitTimeoutMs: 10_000,
  maxAcceptedCommands: 100_000,
  maxAcceptedBytes: 256 * 1024 * 1024,
  acceptedConcurrency: 64,
  acceptedCommandTtlMs: 60 * 60 * 1000,
  maxOutcomeWatches: 10_000,
  maxChannelRequestsInFlight: 100,
  maxUploadChunkBytes: 1024 * 1024,
  maxUploadBytes: 1024 * 1024 * 1024,
  maxUploads: 16,
  streamAnswerWindow: 16,
  maxParkedEventsPerConsumer: 10_000,
  deadEventPageSize: 100,
  maxParkedErrorBytes: 4 * 1024,
  maxSagaStateBytes: 1024 * 1024,
};

/** Room for the note of a cut error text (` … (N bytes, cut at M)`) and some of the text. */
const MIN_PARKED_ERROR_BYTES = 64;

const limitEnv: Record<keyof GatewayLimits, string> = {
  maxRequestBytes: "RECQ_MAX_REQUEST_BYTES",
  maxLinkMessageBytes: "RECQ_MAX_LINK_MESSAGE_BYTES",
  maxRequestArrivalMs: "RECQ_MAX_REQUEST_ARRIVAL_MS",
  maxStreamsPerConnection: "RECQ_MAX_STREAMS_PER_CONNECTION",
  maxConnectionIdleMs: "RECQ_MAX_CONNECTION_IDLE_MS",
  maxCallMsWithoutDeadline: "RECQ_MAX_CALL_MS",
  heartbeatIntervalMs: "RECQ_HEARTBEAT_MS",
  maxQueuedPerLink: "RECQ_MAX_QUEUED_PER_LINK",
  maxQueuedPerAggregate: "RECQ_MAX_QUEUED_PER_AGGREGATE",
  maxQueuedCommands: "RECQ_MAX_QUEUED_COMMANDS",
  maxConflictRetries: "RECQ_MAX_CONFLICT_RETRIES",
  aggregateCacheSize: "RECQ_AGGREGATE_CACHE_SIZE",
  maxAffinityEntries: "RECQ_MAX_AFFINITY_ENTRIES",
  consumerReadBatch: "RECQ_CONSUMER_READ_BATCH",
  shutdownGraceMs: "RECQ_SHUTDOWN_GRACE_MS",
  outcomeRetentionMs: "RECQ_OUTCOME_RETENTION_MS",
  maxEventsPerCommand: "RECQ_MAX_EVENTS_PER_COMMAND",
  maxEventBytes: "RECQ_MAX_EVENT_BYTES",
  maxBufferedAnswers: "RECQ_MAX_BUFFERED_ANSWERS",
  maxBufferedAnswerBytes: "RECQ_MAX_BUFFERED_ANSWER_BYTES",
  maxUnreadMs: "RECQ_MAX_UNREAD_MS",
  maxCallsPerLink: "RECQ_MAX_CALLS_PER_LINK",
  maxRoutingKeyBytes: "RECQ_MAX_ROUTING_KEY_BYTES",
  maxCallsInFlight: "RECQ_MAX_CALLS_IN_FLIGHT",
  minCallsInFlight: "RECQ_MIN_CALLS_IN_FLIGHT",
  admissionTolerancePercent: "RECQ_ADMISSION_TOLERANCE_PERCENT",
  maxSubscriptions: "RECQ_MAX_SUBSCRIPTIONS",
  maxEventSubscriptions: "RECQ_MAX_EVENT_SUBSCRIPTIONS",
  maxEventFilterTypes: "RECQ_MAX_EVENT_FILTER_TYPES",
  eventReadBatch: "RECQ_EVENT_READ_BATCH",
  storeCacheBytes: "RECQ_STORE_CACHE_BYTES",
  mongoCommitTimeoutMs: "RECQ_MONGODB_COMMIT_TIMEOUT_MS",
  maxAcceptedCommands: "RECQ_MAX_ACCEPTED_COMMANDS",
  maxAcceptedBytes: "RECQ_MAX_ACCEPTED_BYTES",
  acceptedConcurrency: "RECQ_ACCEPTED_CONCURRENCY",
  acceptedCommandTtlMs: "RECQ_ACCEPTED_COMMAND_TTL_MS",
  maxOutcomeWatches: "RECQ_MAX_OUTCOME_WATCHES",
  maxChannelRequestsInFlight: "RECQ_MAX_CHANNEL_REQUESTS_IN_FLIGHT",
  maxUploadChunkBytes: "RECQ_MAX_UPLOAD_CHUNK_BYTES",
  maxUploadBytes: "RECQ_MAX_UPLOAD_BYTES",
  maxUploads: "RECQ_MAX_UPLOADS",
  streamAnswerWindow: "RECQ_STREAM_ANSWER_WINDOW",
  maxParkedEventsPerConsumer: "RECQ_MAX_PARKED_EVENTS_PER_CONSUMER",
  deadEventPageSize: "RECQ_DEAD_EVENT_PAGE_SIZE",
  maxParkedErrorBytes: "RECQ_MAX_PARKED_ERROR_BYTES",
  maxSagaStateBytes: "RECQ_MAX_SAGA_STATE_BYTES",
};

export function loadGatewayConfig(argv: string[], env: NodeJS.ProcessEnv): GatewayConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      address: { type: "string" },
      descriptors: { type: "string", multiple: true },
      "data-dir": { type: "string" },
      "http-address": { type: "string" },
    },
    strict: true,
  });
  const limits = { ...defaultLimits };
  for (const key of Object.keys(limitEnv) as (keyof GatewayLimits)[]) {
    const raw = env[limitEnv[key]];
    if (raw === undefined || raw === "") continue;
    const value = Number(raw);
    // Every limit must let something through: 0 would refuse every call or close every link.
    const minimum = key === "maxConflictRetries" ? 0 : key === "admissionTolerancePercent" ? 100 : key === "maxParkedErrorBytes" ? MIN_PARKED_ERROR_BYTES : 1;
    if (!Number.isInteger(value) || value < minimum) throw new Error(`${limitEnv[key]} must be an integer of at least ${minimum}, not "${raw}"`);
    // Sent to the server as maxTimeMS (and wtimeout, 1 s more), which it refuses above 2^31−1: the kit's bound too.
    if (key === "mongoCommitTimeoutMs" && value > MAX_MONGODB_COMMIT_TIMEOUT_MS) {
      throw new Error(`${limitEnv[key]} must be an integer of at most ${MAX_MONGODB_COMMIT_TIMEOUT_MS}, not "${raw}"`);
    }
    limits[key] = value;
  }
  // A floor given above the ceiling is a mistake; the default floor under a low ceiling just makes the limit fixed.
  if (env.RECQ_MIN_CALLS_IN_FLIGHT && limits.minCallsInFlight > limits.maxCallsInFlight) {
    throw new Error(`RECQ_MIN_CALLS_IN_FLIGHT (${limits.minCallsInFlight}) must not exceed RECQ_MAX_CALLS_IN_FLIGHT (${limits.maxCallsInFlight})`);
  }
  // One token for both would make every caller an event subscriber: the permission to subscribe is a separate one.
  if (env.RECQ_EVENTS_TOKEN && env.RECQ_EVENTS_TOKEN === env.RECQ_CLIENT_TOKEN) {
    throw new Error("RECQ_EVENTS_TOKEN must differ from RECQ_CLIENT_TOKEN: a caller's token must not grant event subscriptions");
  }
  // An admin token that another token matches would grant the admin services to every holder of that one.
  if (env.RECQ_ADMIN_TOKEN && (env.RECQ_ADMIN_TOKEN === env.RECQ_CLIENT_TOKEN || env.RECQ_ADMIN_TOKEN === env.RECQ_EVENTS_TOKEN)) {
    throw new Error("RECQ_ADMIN_TOKEN must differ from RECQ_CLIENT_TOKEN and RECQ_EVENTS_TOKEN: a caller's or a subscriber's token must not grant the admin services");
  }
  const address = values.address ?? env.RECQ_ADDRESS ?? "127.0.0.1:50051";
  const transport = transportSecurityFromEnv(env, address);
  checkHttpTransport(values["http-address"] ?? env.RECQ_HTTP_ADDRESS, transport, env);
  return {
    address,
    descriptorsPaths: descriptorPaths(values.descriptors ?? (env.RECQ_DESCRIPTORS ? [env.RECQ_DESCRIPTORS] : ["dist/descriptors.binpb"])),
    dataDir: path.resolve(values["data-dir"] ?? env.RECQ_DATA_DIR ?? "data/gateway"),
    linkToken: env.RECQ_LINK_TOKEN || undefined,
    clientToken: env.RECQ_CLIENT_TOKEN || undefined,
    adminToken: env.RECQ_ADMIN_TOKEN || undefined,
    eventsToken: env.RECQ_EVENTS_TOKEN || undefined,
    gatewayId: gatewayIdFrom(env.RECQ_GATEWAY_ID),
    limits,
    http: httpOptions(values["http-address"] ?? env.RECQ_HTTP_ADDRESS, env),
    transport,
    security: securityPolicyFrom(env),
    jwks: jwksSettingsFromEnv(env),
  };
}

/**
 * The HTTP port serves the gRPC port's certificate when it has one; without one it is cleartext, held to the same
 * rule: on a network address only when RECQ_ALLOW_PLAINTEXT=true (a TLS proxy in front of it, say).
 */
function checkHttpTransport(httpAddress: string | undefined, transport: TransportSecurity, env: NodeJS.ProcessEnv): void {
  if (!httpAddress || transport.mode === "tls" || isLoopback(httpAddress) || env.RECQ_ALLOW_PLAINTEXT === "true") return;
  throw new Error(
    `the HTTP port would listen on ${httpAddress} in plaintext: set RECQ_TLS_CERT_FILE and RECQ_TLS_KEY_FILE (both ports serve them), or RECQ_ALLOW_PLAINTEXT=true to allow plaintext on a network address`,
  );
}

/** The security file, checked against the simple mode's tokens: one way of authenticating each kind of peer. */
function securityPolicyFrom(env: NodeJS.ProcessEnv): SecurityPolicy | undefined {
  if (!env.RECQ_SECURITY_FILE) return undefined;
  const policy = readSecurityPolicy(env.RECQ_SECURITY_FILE);
  if (policy.callers !== undefined && (env.RECQ_CLIENT_TOKEN || env.RECQ_EVENTS_TOKEN || env.RECQ_ADMIN_TOKEN)) {
    throw new Error("RECQ_SECURITY_FILE sets callers: unset RECQ_CLIENT_TOKEN, RECQ_EVENTS_TOKEN and RECQ_ADMIN_TOKEN (the simple mode), or remove callers from the file");
  }
  if (policy.components !== undefined && env.RECQ_LINK_TOKEN) {
    throw new Error("RECQ_SECURITY_FILE sets components: unset RECQ_LINK_TOKEN (the simple mode), or remove components from the file");
  }
  return policy;
}

/** A gateway id names documents and appears in logs: a short, plain name (a pod or host name fits). */
function gatewayIdFrom(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(value)) throw new Error(`RECQ_GATEWAY_ID must be 1 to 64 characters of A-Z a-z 0-9 . _ -, not "${value.slice(0, 80)}"`);
  return value;
}

/** The HTTP port's settings; none when no address is given. */
function httpOptions(address: string | undefined, env: NodeJS.ProcessEnv): HttpPortOptions | undefined {
  if (!address) return undefined;
  const heartbeat = env.RECQ_HTTP_HEARTBEAT_MS;
  const heartbeatMs = heartbeat ? Number(heartbeat) : defaultHttpHeartbeatMs;
  if (!Number.isInteger(heartbeatMs) || heartbeatMs < 1) throw new Error(`RECQ_HTTP_HEARTBEAT_MS must be an integer of at least 1, not "${heartbeat}"`);
  const allowedOrigins = (env.RECQ_HTTP_ALLOWED_ORIGINS ?? "").split(",").map((origin) => origin.trim()).filter((origin) => origin !== "");
  const page = env.RECQ_HTTP_PAGE === "1" || env.RECQ_HTTP_PAGE === "true";
  return { address, allowedOrigins, heartbeatMs, timeouts: httpTimeouts(env), ...(page ? { page } : {}) };
}

/** The HTTP port's bounds on slow clients (http/connection-timeouts.ts, docs/web.md). */
function httpTimeouts(env: NodeJS.ProcessEnv): ConnectionTimeouts {
  const read = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    // Node timers hold at most 2^31-1 ms.
    if (!Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1) throw new Error(`${name} must be an integer from 1 to ${2 ** 31 - 1}, not "${raw}"`);
    return value;
  };
  return {
    protocolTimeoutMs: read("RECQ_HTTP_PROTOCOL_TIMEOUT_MS", DEFAULT_CONNECTION_TIMEOUTS.protocolTimeoutMs),
    headersTimeoutMs: read("RECQ_HTTP_HEADERS_TIMEOUT_MS", DEFAULT_CONNECTION_TIMEOUTS.headersTimeoutMs),
    idleTimeoutMs: read("RECQ_HTTP_IDLE_TIMEOUT_MS", DEFAULT_CONNECTION_TIMEOUTS.idleTimeoutMs),
    http2IdleTimeoutMs: read("RECQ_HTTP2_IDLE_TIMEOUT_MS", DEFAULT_CONNECTION_TIMEOUTS.http2IdleTimeoutMs),
  };
}

/** Each value may list several files, comma-separated; relative paths are from the working directory. */
function descriptorPaths(values: readonly string[]): string[] {
  const paths = values.flatMap((value) => value.split(",")).map((value) => value.trim()).filter((value) => value !== "");
  if (paths.length === 0) throw new Error("--descriptors / RECQ_DESCRIPTORS names no file");
  return paths.map((file) => path.resolve(file));
}
