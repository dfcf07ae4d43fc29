import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { MethodDefinitionLike, RequestOf, ResponseOf, ServiceDefinitionLike } from "../handlers/definitions";
import type { MeshService } from "../mesh-service";
import { GatewayClientTransport, type GatewayInvokerOptions } from "./gateway-client-transport";
import type { InvokeOptions, StreamOptions } from "./invoke-options";
import type { InvokerTransport } from "./invoker-transport";
import { LinkTransport } from "./link-transport";

/**
 * A service's methods as an Invoker calls them: a command or a unary query answers a promise of its response, a
 * server-streaming query an AsyncIterable of its answers. Uploads (client-streaming commands) are left out.
 */
export type InvokerService<D extends ServiceDefinitionLike> = {
  [K in keyof D as D[K] extends { requestStream: true } ? never : K]: D[K] extends { responseStream: true }
    ? (request: RequestOf<D[K]>, options?: StreamOptions) => AsyncIterable<ResponseOf<D[K]>>
    : (request: RequestOf<D[K]>, options?: InvokeOptions) => Promise<ResponseOf<D[K]>>;
};

/**
 * Typed calls of the mesh's commands and queries from TypeScript code (a web controller, a script, another
 * service), from ts-proto `outputServices=grpc-js` service definitions. Failures are MeshErrors with the status
 * code, message and `recq-reason` a caller of the gateway sees.
 */
export class Invoker {
  /** An Invoker with a gRPC client of its own to the gateway (TLS, mTLS and a bearer token as options). Close it when done. */
  static forGateway(options: GatewayInvokerOptions): Invoker {
    return new Invoker(new GatewayClientTransport(options));
  }

  /** An Invoker over a MeshService's own link: commands and unary queries, no connection of its own. */
  static overLink(service: Pick<MeshService, "call">): Invoker {
    return new Invoker(new LinkTransport(service));
  }

  constructor(private readonly transport: InvokerTransport) {}

  /** The service's methods, by their ts-proto names: `invoker.service(TodoListCommandServiceService).createTodoList(…)`. */
  service<D extends ServiceDefinitionLike>(definition: D): InvokerService<D> {
    const methods: Record<string, unknown> = {};
    for (const [name, method] of Object.entries(definition)) {
      if (method.requestStream) continue;
      methods[name] = method.responseStream
        ? (request: never, options?: StreamOptions) => this.stream(method, request, options)
        : (request: never, options?: InvokeOptions) => this.call(method, request, options);
    }
    return methods as InvokerService<D>;
  }

  /** Sends a command or a unary query; answers its response (a command's CommandAck). */
  call<M extends MethodDefinitionLike>(method: M, request: RequestOf<M>, options: InvokeOptions = {}): Promise<ResponseOf<M>> {
    if (method.responseStream || method.requestStream) return Promise.reject(wrongShape(method, "call"));
    return this.transport.unary(method, request, options);
  }

  /** Opens a server-streaming query when the iteration begins; `break` or `options.signal` ends it. */
  stream<M extends MethodDefinitionLike>(method: M, request: RequestOf<M>, options: StreamOptions = {}): AsyncIterable<ResponseOf<M>> {
    if (!method.responseStream || method.requestStream) throw wrongShape(method, "stream");
    return this.transport.serverStream(method, request, options);
  }

  /** Closes the gateway client this Invoker made (nothing for one over a service's link). */
  close(): void {
    this.transport.close();
  }
}

function wrongShape(method: MethodDefinitionLike, used: "call" | "stream"): MeshError {
  const shape = method.requestStream ? "an upload (client-streaming)" : method.responseStream ? "a server-streaming query" : "a unary method";
  const instead = method.requestStream ? "use its generated client" : used === "call" ? "use stream()" : "use call()";
  return new MeshError(status.UNIMPLEMENTED, `${method.path.slice(1)} is ${shape}: Invoker.${used} does not take it; ${instead}`, Reason.INVALID_REQUEST);
}
