import { cors as connectCors } from "@connectrpc/connect";
import { headerOf, type HttpRequest, type HttpResponse } from "./http-answers";

/** Headers a browser may send besides Connect's and gRPC-Web's own: the gateway's, auth, tracing, resuming, Prefer. */
const GATEWAY_REQUEST_HEADERS = [
  "authorization",
  "recq-command-id",
  "recq-consistency-token",
  "recq-mode",
  "recq-reply-to",
  "prefer",
  "traceparent",
  "tracestate",
  "last-event-id",
];
/** Headers a browser script may read besides Connect's: the gateway's answers and a 202's Location. */
const GATEWAY_RESPONSE_HEADERS = ["recq-reason", "recq-outcome", "recq-command-id", "grpc-retry-pushback-ms", "retry-after", "location"];
/** How long a browser may cache a preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE_S = 7200;

/**
 * Cross-origin requests from the origins allowed (RECQ_HTTP_ALLOWED_ORIGINS; `*` for any): the response names the
 * origin and exposes the gateway's headers; a preflight (OPTIONS) from an allowed origin is answered 204 with what
 * may be sent, from any other 403 without CORS headers — the browser then refuses the request itself.
 * Returns true when the request was a preflight and is answered.
 */
export function applyCors(request: HttpRequest, response: HttpResponse, allowedOrigins: readonly string[]): boolean {
  const origin = headerOf(request, "origin");
  const preflight = request.method === "OPTIONS" && headerOf(request, "access-control-request-method") !== undefined;
  if (origin === undefined) {
    if (!preflight) return false;
    response.writeHead(400).end();
    return true;
  }
  const allowed = allowedOrigins.includes("*") || allowedOrigins.includes(origin);
  if (!allowed) {
    if (!preflight) return false;
    response.writeHead(403, { vary: "Origin" }).end();
    return true;
  }
  response.setHeader("access-control-allow-origin", origin);
  response.setHeader("vary", "Origin");
  if (!preflight) {
    response.setHeader("access-control-expose-headers", [...connectCors.exposedHeaders, ...GATEWAY_RESPONSE_HEADERS].join(", "));
    return false;
  }
  response.writeHead(204, {
    "access-control-allow-methods": [...new Set([...connectCors.allowedMethods, "OPTIONS"])].join(", "),
    "access-control-allow-headers": [...connectCors.allowedHeaders, ...GATEWAY_REQUEST_HEADERS].join(", "),
    "access-control-max-age": String(PREFLIGHT_MAX_AGE_S),
  });
  response.end();
  return true;
}
