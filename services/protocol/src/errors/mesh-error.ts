import { Metadata, status, type StatusObject } from "@grpc/grpc-js";
import { boundedStatusMessage, isWellFormedReason } from "./status-text";

/** Machine-readable reasons, sent to callers as `recq-reason` trailing metadata. One per distinct failure. */
export const Reason = {
  NO_HANDLER: "NO_HANDLER",
  HANDLER_LOST: "HANDLER_LOST",
  DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
  CANCELLED: "CANCELLED",
  INVALID_REQUEST: "INVALID_REQUEST",
  REQUEST_TOO_LARGE: "REQUEST_TOO_LARGE",
  CONSISTENCY_UNAVAILABLE: "CONSISTENCY_UNAVAILABLE",
  INVALID_HANDLER_REPLY: "INVALID_HANDLER_REPLY",
  DOMAIN_RULE: "DOMAIN_RULE",
  AGGREGATE_CONFLICT: "AGGREGATE_CONFLICT",
  QUEUE_FULL: "QUEUE_FULL",
  /** The gateway holds as many accepted (`recq-mode: async`) commands, or bytes of them, as its limit allows. */
  ACCEPTED_COMMANDS_FULL: "ACCEPTED_COMMANDS_FULL",
  /** An accepted command could not be executed within its time-to-live (RECQ_ACCEPTED_COMMAND_TTL_MS). */
  ACCEPTED_COMMAND_EXPIRED: "ACCEPTED_COMMAND_EXPIRED",
  /** A consumer holds as many parked events as its limit allows (RECQ_MAX_PARKED_EVENTS_PER_CONSUMER): it is stopped. */
  PARKED_EVENTS_FULL: "PARKED_EVENTS_FULL",
  OVERLOADED: "OVERLOADED",
  MESSAGE_TOO_LARGE: "MESSAGE_TOO_LARGE",
  HANDLER_DRAINING: "HANDLER_DRAINING",
  NO_PERMITS: "NO_PERMITS",
  UNAUTHENTICATED: "UNAUTHENTICATED",
  PERMISSION_DENIED: "PERMISSION_DENIED",
  /** Callers' tokens cannot be verified: the JWKS could not be loaded (none yet, or none within RECQ_JWKS_MAX_STALE_MS). */
  KEYS_UNAVAILABLE: "KEYS_UNAVAILABLE",
  PROTOCOL_VIOLATION: "PROTOCOL_VIOLATION",
  STORE_UNAVAILABLE: "STORE_UNAVAILABLE",
  SHUTTING_DOWN: "SHUTTING_DOWN",
  /** A reply channel already has its one listener. */
  CHANNEL_IN_USE: "CHANNEL_IN_USE",
  /** A saga step's state is larger than the gateway keeps (RECQ_MAX_SAGA_STATE_BYTES). */
  SAGA_STATE_TOO_LARGE: "SAGA_STATE_TOO_LARGE",
  INTERNAL: "INTERNAL",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export const REASON_METADATA_KEY = "recq-reason";
/**
 * How long a refused caller should wait before trying again, in ms: gRPC's own retry pushback (gRFC A6), which a
 * client with a retry policy honours by itself, and which any other client can read.
 */
export const RETRY_AFTER_METADATA_KEY = "grpc-retry-pushback-ms";

/** Host errors whose meaning is "the other side is not there": they map to UNAVAILABLE. */
const unavailableHostErrors = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH"]);

/**
 * The one error type of the mesh: a gRPC status code, a message for humans and a reason for machines.
 * `MeshError.from` turns anything thrown into one, so every failure reaches a caller as a clear status. The
 * message is bounded and the reason well formed from the start (status-text.ts), so no error — whoever made
 * it, from whatever input — can carry more to a caller's trailers than a client accepts.
 */
export class MeshError extends Error {
  override readonly name = "MeshError";
  readonly reason: string;
  /** Sent as `grpc-retry-pushback-ms` when set: the caller may try again after this long. */
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly code: status,
    message: string,
    reason: string = defaultReason(code),
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(boundedStatusMessage(message), options);
    this.reason = isWellFormedReason(reason) ? reason : defaultReason(code);
    const retryAfterMs = options?.retryAfterMs;
    this.retryAfterMs = retryAfterMs !== undefined && Number.isInteger(retryAfterMs) && retryAfterMs >= 0 ? retryAfterMs : undefined;
  }

  static from(thrown: unknown): MeshError {
    if (thrown instanceof MeshError) return thrown;
    if (isStatusLike(thrown)) {
      const reason = thrown.metadata?.get(REASON_METADATA_KEY)[0];
      return new MeshError(thrown.code, thrown.details ?? thrown.message ?? "", typeof reason === "string" ? reason : undefined, {
        cause: thrown,
      });
    }
    if (thrown instanceof Error) {
      const hostCode = (thrown as NodeJS.ErrnoException).code;
      if (hostCode !== undefined && unavailableHostErrors.has(hostCode)) {
        return new MeshError(status.UNAVAILABLE, thrown.message, Reason.HANDLER_LOST, { cause: thrown });
      }
      return new MeshError(status.INTERNAL, thrown.message, Reason.INTERNAL, { cause: thrown });
    }
    return new MeshError(status.INTERNAL, String(thrown), Reason.INTERNAL, { cause: thrown });
  }

  /** The shape grpc-js takes in a callback or `call.emit('error', …)`, with the reason in trailing metadata. */
  toStatus(): Partial<StatusObject> & { code: status; details: string } {
    const metadata = new Metadata();
    metadata.set(REASON_METADATA_KEY, this.reason);
    if (this.retryAfterMs !== undefined) metadata.set(RETRY_AFTER_METADATA_KEY, String(this.retryAfterMs));
    return { code: this.code, details: this.message, metadata };
  }
}

function defaultReason(code: status): string {
  switch (code) {
    case status.DEADLINE_EXCEEDED:
      return Reason.DEADLINE_EXCEEDED;
    case status.CANCELLED:
      return Reason.CANCELLED;
    case status.INVALID_ARGUMENT:
      return Reason.INVALID_REQUEST;
    case status.RESOURCE_EXHAUSTED:
      return Reason.QUEUE_FULL;
    case status.UNAUTHENTICATED:
      return Reason.UNAUTHENTICATED;
    case status.PERMISSION_DENIED:
      return Reason.PERMISSION_DENIED;
    case status.ABORTED:
      return Reason.AGGREGATE_CONFLICT;
    case status.FAILED_PRECONDITION:
    case status.NOT_FOUND:
    case status.ALREADY_EXISTS:
    case status.OUT_OF_RANGE:
      return Reason.DOMAIN_RULE;
    default:
      return Reason.INTERNAL;
  }
}

interface StatusLike {
  code: status;
  details?: string;
  message?: string;
  metadata?: Metadata;
}

/** A gRPC status (a grpc-js ServiceError or status object), not just any error with a numeric `code`. */
function isStatusLike(value: unknown): value is StatusLike {
  if (typeof value !== "object" || value === null) return false;
  const { code, details, metadata } = value as { code?: unknown; details?: unknown; metadata?: unknown };
  return typeof code === "number" && code >= 1 && code <= 16 && (typeof details === "string" || metadata instanceof Metadata);
}
