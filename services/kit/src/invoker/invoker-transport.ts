import type { MethodDefinitionLike, RequestOf, ResponseOf } from "../handlers/definitions";
import type { InvokeOptions, StreamOptions } from "./invoke-options";

/** How an Invoker reaches the mesh: a gRPC client of the gateway, or a service's own link. */
export interface InvokerTransport {
  /** A command or a unary query; fails with a MeshError carrying the caller's status and `recq-reason`. */
  unary<M extends MethodDefinitionLike>(method: M, request: RequestOf<M>, options: InvokeOptions): Promise<ResponseOf<M>>;
  /** A server-streaming query: its answers, in order, until it ends, fails (a MeshError) or is aborted. */
  serverStream<M extends MethodDefinitionLike>(method: M, request: RequestOf<M>, options: StreamOptions): AsyncIterable<ResponseOf<M>>;
  /** Releases what the transport owns (a gateway client's channel); a service's link stays the service's. */
  close(): void;
}
