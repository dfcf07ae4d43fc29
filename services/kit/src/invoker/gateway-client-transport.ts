import { Client, Metadata, status, type ChannelOptions, type ServiceError } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { MethodDefinitionLike, RequestOf, ResponseOf } from "../handlers/definitions";
import { linkChannelCredentials, linkTlsChannelOptions, type LinkTlsOptions } from "../link/link-security";
import { callMetadata, type CallerToken } from "./call-metadata";
import { DEFAULT_INVOKE_TIMEOUT_MS, type InvokeOptions, type StreamOptions } from "./invoke-options";
import type { InvokerTransport } from "./invoker-transport";

/** An Invoker's gRPC client of the gateway. */
export interface GatewayInvokerOptions {
  /** The gateway, host:port. */
  address: string;
  /** TLS towards the gateway, with a client certificate for mTLS; default plaintext (the handler link's options). */
  tls?: LinkTlsOptions;
  /** The caller's bearer token (`authorization: Bearer …`), or a function read at each call. */
  token?: CallerToken;
  /** More grpc-js channel options. */
  channelOptions?: ChannelOptions;
}

/**
 * Pings while calls are open, so that a subscription over a connection that died without a FIN (a gateway host
 * gone, a network cut) fails with UNAVAILABLE in seconds instead of waiting forever for its next answer. The
 * gateway permits pings this often (the handler links send them too). An idle channel sends none.
 */
export const INVOKER_KEEPALIVE = {
  "grpc.keepalive_time_ms": 20_000,
  "grpc.keepalive_timeout_ms": 10_000,
} as const;

/** Calls the gateway as any gRPC client does: one unary call per command or query, one server stream per subscription. */
export class GatewayClientTransport implements InvokerTransport {
  private readonly client: Client;

  constructor(private readonly options: GatewayInvokerOptions) {
    this.client = new Client(options.address, linkChannelCredentials(options.tls), {
      ...INVOKER_KEEPALIVE,
      ...linkTlsChannelOptions(options.tls),
      ...options.channelOptions,
    });
  }

  async unary<M extends MethodDefinitionLike>(method: M, request: RequestOf<M>, options: InvokeOptions): Promise<ResponseOf<M>> {
    const metadata = toMetadata(await callMetadata(options, this.options.token));
    const { signal } = options;
    if (signal?.aborted) throw new MeshError(status.CANCELLED, `the call of ${method.path.slice(1)} was aborted by its caller`, Reason.CANCELLED);
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_INVOKE_TIMEOUT_MS);
    return new Promise<ResponseOf<M>>((resolve, reject) => {
      const cancel = () => call.cancel();
      const call = this.client.makeUnaryRequest(method.path, serializer(method), deserializer(method), request, metadata, { deadline }, (error: ServiceError | null, response?: ResponseOf<M>) => {
        signal?.removeEventListener("abort", cancel);
        if (error) reject(MeshError.from(error));
        else resolve(response!);
      });
      signal?.addEventListener("abort", cancel, { once: true });
    });
  }

  serverStream<M extends MethodDefinitionLike>(method: M, request: RequestOf<M>, options: StreamOptions): AsyncIterable<ResponseOf<M>> {
    return this.answers(method, request, options);
  }

  close(): void {
    this.client.close();
  }

  /** Opens the subscription when the iteration begins; ends it when the loop breaks, the signal aborts or the call fails. */
  private async *answers<M extends MethodDefinitionLike>(method: M, request: RequestOf<M>, options: StreamOptions): AsyncGenerator<ResponseOf<M>> {
    const metadata = toMetadata(await callMetadata(options, this.options.token));
    const { signal } = options;
    if (signal?.aborted) return;
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    const call = this.client.makeServerStreamRequest(method.path, serializer(method), deserializer(method), request, metadata, { deadline });
    const cancel = () => call.cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      for await (const answer of call) yield answer as ResponseOf<M>;
    } catch (error) {
      // Aborted by its caller: the subscription ended as asked, not in failure.
      if (signal?.aborted) return;
      throw MeshError.from(error);
    } finally {
      signal?.removeEventListener("abort", cancel);
      call.cancel();
    }
  }
}

function serializer<M extends MethodDefinitionLike>(method: M): (value: RequestOf<M>) => Buffer {
  return method.requestSerialize as (value: RequestOf<M>) => Buffer;
}

function deserializer<M extends MethodDefinitionLike>(method: M): (bytes: Buffer) => ResponseOf<M> {
  return method.responseDeserialize as (bytes: Buffer) => ResponseOf<M>;
}

function toMetadata(headers: Record<string, string>): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return metadata;
}
