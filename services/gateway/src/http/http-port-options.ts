import type { SecureContextOptions } from "node:tls";
import type { ConnectionTimeouts } from "./connection-timeouts";

// The HTTP port's settings apart from the port itself: the configuration reads them in every process, and the
// port (Connect, its protocol packages) is loaded only when an address is set (gateway.ts).

/** The HTTP port's settings (docs/web.md). */
export interface HttpPortOptions {
  /** host:port (RECQ_HTTP_ADDRESS, --http-address); port 0 picks a free one. */
  address: string;
  /** Origins browsers may call from (RECQ_HTTP_ALLOWED_ORIGINS); `*` for any; none: same-origin only. */
  allowedOrigins: readonly string[];
  /** A comment on idle Server-Sent Events streams this often (RECQ_HTTP_HEARTBEAT_MS): 15 s. */
  heartbeatMs: number;
  /** Serves the TodoList page at `/` (RECQ_HTTP_PAGE=1): off unless set. */
  page?: boolean;
  /** TLS with the gRPC port's certificate files (RECQ_TLS_*); cleartext without. */
  tls?: HttpTls;
  /** Bounds on slow clients (RECQ_HTTP_PROTOCOL_TIMEOUT_MS, RECQ_HTTP_HEADERS_TIMEOUT_MS, RECQ_HTTP_IDLE_TIMEOUT_MS, RECQ_HTTP2_IDLE_TIMEOUT_MS): DEFAULT_CONNECTION_TIMEOUTS when not given. */
  timeouts?: ConnectionTimeouts;
}

/**
 * TLS for the HTTP port: the gRPC port's certificate files (security/certificate-files.ts), so both ports serve one
 * pair and a rotated pair reaches new connections of both.
 */
export interface HttpTls {
  serverOptions(): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean };
  onChange(listener: (options: SecureContextOptions) => void): () => void;
}

/** RECQ_HTTP_HEARTBEAT_MS when it is not set. */
export const defaultHttpHeartbeatMs = 15_000;
