import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { MethodDefinitionLike, RequestOf, ResponseOf } from "../handlers/definitions";
import type { MeshService } from "../mesh-service";
import type { InvokeOptions } from "./invoke-options";
import type { InvokerTransport } from "./invoker-transport";

/**
 * Calls through a MeshService's own link (MeshService.call): no connection of its own. The link carries commands
 * and unary queries only; accepted commands and subscriptions need a gateway client.
 */
export class LinkTransport implements InvokerTransport {
  constructor(private readonly service: Pick<MeshService, "call">) {}

  unary<M extends MethodDefinitionLike>(method: M, request: RequestOf<M>, options: InvokeOptions): Promise<ResponseOf<M>> {
    if (options.mode === "async") return Promise.reject(notOverLink(method, "an accepted command (recq-mode: async)"));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(aborted(method));
    const answer = this.service.call(method, request, {
      commandId: options.commandId,
      consistencyToken: options.consistencyToken,
      headers: options.headers,
      timeoutMs: options.timeoutMs,
    });
    if (signal === undefined) return answer;
    // The link has no cancel for its calls: the caller stops waiting; the gateway ends the call at its deadline.
    return new Promise<ResponseOf<M>>((resolve, reject) => {
      const stop = () => reject(aborted(method));
      signal.addEventListener("abort", stop, { once: true });
      answer.then(resolve, reject).finally(() => signal.removeEventListener("abort", stop));
    });
  }

  serverStream<M extends MethodDefinitionLike>(method: M): AsyncIterable<ResponseOf<M>> {
    return refused(notOverLink(method, "a server-streaming query"));
  }

  close(): void {
    // The link is the service's: it closes with MeshService.drain or close.
  }
}

function notOverLink(method: MethodDefinitionLike, what: string): MeshError {
  return new MeshError(
    status.UNIMPLEMENTED,
    `${method.path.slice(1)} is ${what}: a service's link does not carry it; use an Invoker on a gateway client (Invoker.forGateway)`,
    Reason.INVALID_REQUEST,
  );
}

function aborted(method: MethodDefinitionLike): MeshError {
  return new MeshError(status.CANCELLED, `the call of ${method.path.slice(1)} was aborted by its caller`, Reason.CANCELLED);
}

/** A subscription that fails at its first read. */
function refused<T>(error: MeshError): AsyncIterable<T> {
  return { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }) };
}
