import { Code, ConnectError } from "@connectrpc/connect";
import { MeshError, REASON_METADATA_KEY, RETRY_AFTER_METADATA_KEY } from "@recq-mesh/protocol";

/**
 * A gateway failure as Connect sends it: the same code (Connect's codes are gRPC's), the message, and the reason
 * as the `recq-reason` header (Connect sends an error's metadata as response headers, or as trailers on a
 * stream), with the retry hint as `grpc-retry-pushback-ms` and, for HTTP caches and browsers, `retry-after` (s).
 */
export function connectErrorOf(thrown: unknown): ConnectError {
  if (thrown instanceof ConnectError) return thrown;
  const error = MeshError.from(thrown);
  const headers = new Headers({ [REASON_METADATA_KEY]: error.reason });
  if (error.retryAfterMs !== undefined) {
    headers.set(RETRY_AFTER_METADATA_KEY, String(error.retryAfterMs));
    headers.set("retry-after", String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))));
  }
  return new ConnectError(error.message, error.code as number as Code, headers, undefined, error);
}
