import { Code, ConnectError, createConnectRouter, createContextValues, type ConnectRouterOptions } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { Logger } from "@recq-mesh/protocol";
import { connectRoutes, PEER, type ConnectRouteDeps } from "./connect-routes";
import type { HttpRequest, HttpResponse } from "./http-answers";

/** Answers one HTTP request with the Connect (or gRPC-Web) route of its path; false when no route has that path. */
export type ConnectHandler = (request: HttpRequest, response: HttpResponse) => boolean;

/**
 * The Connect router of the served services, as `connectNodeAdapter` builds it, with two differences: a path with no
 * route is left to the caller, and a call whose response could not be written (its caller went away mid-answer)
 * is logged at debug level through the gateway's logger rather than printed to the console.
 */
export function connectHandler(deps: ConnectRouteDeps, options: ConnectRouterOptions, logger: Logger): ConnectHandler {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  connectRoutes(deps)(router);
  const handlers = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));
  return (request, response) => {
    const handler = handlers.get((request.url ?? "").split("?", 1)[0]!);
    if (handler === undefined) return false;
    const peer = `http:${request.socket.remoteAddress}:${request.socket.remotePort}`;
    const universal = universalRequestFromNodeRequest(request, response, undefined, createContextValues().set(PEER, peer));
    handler(universal)
      .then((answer) => universalResponseToNodeResponse(answer, response))
      .catch((reason: unknown) => {
        const error = ConnectError.from(reason);
        if (error.code !== Code.Aborted) logger.debug("HTTP call ended before its answer was written", { method: handler.method.name, error: error.message });
      });
    return true;
  };
}
