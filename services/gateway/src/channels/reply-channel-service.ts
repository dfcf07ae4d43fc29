import type { Metadata, Server, ServerDuplexStream, ServerWritableStream, ServiceDefinition } from "@grpc/grpc-js";
import { ReplyChannelServiceService } from "@recq-mesh/protocol/gen/recq/v1/reply_channel";
import { MeshError } from "@recq-mesh/protocol";
import type { AdmissionControl } from "../admission/admission-control";
import { checkCredentials } from "../links/credentials";
import { CallSignal } from "../server/call-signal";
import { callerTraceContext, firstValue } from "../server/caller-trace-context";
import type { CallTracker } from "../server/call-tracker";
import type { UnaryCallRunner } from "../server/unary-call-runner";
import type { ChannelListeners } from "./channel-listeners";
import { OpenStream, type OpenStreamDeps, type OpenStreamLimits } from "./open-stream";

export const REPLY_CHANNEL_SERVICE_NAME = "recq.v1.ReplyChannelService";
export const OPEN_PATH = ReplyChannelServiceService.open.path;
/**
 * What an OpenRequest may carry besides its payload (id, method, metadata, type URL): its messages are received up to
 * RECQ_MAX_REQUEST_BYTES plus this, so a payload over the request limit is refused alone, like a single call's.
 */
export const OPEN_REQUEST_ENVELOPE_BYTES = 64 * 1024;
/** Listen's path: admitted as a subscription (a stream that lasts as long as its caller wants). */
export const LISTEN_PATH = ReplyChannelServiceService.listen.path;

export interface ReplyChannelOptions extends OpenStreamLimits {
  /** When set, callers must send `authorization: Bearer <token>`. */
  clientToken: string | undefined;
}

interface Deps {
  run: UnaryCallRunner;
  /** The named channels Listen registers, and commands deliver to. */
  listeners: ChannelListeners;
  admission: AdmissionControl;
  calls: CallTracker;
  options: ReplyChannelOptions;
  /** With callers' permissions configured: each request on Open is checked against its method. */
  authorizeRequest?: OpenStreamDeps["authorizeRequest"];
}

/** Messages pass as bytes: the service decodes and encodes them itself, so a malformed one fails with a clear status. */
const passThrough = (value: Buffer) => value;

/**
 * recq.v1.ReplyChannelService: Open (many correlated requests on one stream) and Listen (a named channel that
 * receives the outcomes of commands sent with `recq-reply-to`).
 */
export class ReplyChannelService {
  private readonly streams = new Set<OpenStream>();
  private readonly streamDeps: OpenStreamDeps;

  constructor(private readonly deps: Deps) {
    this.streamDeps = { run: deps.run, admission: deps.admission, calls: deps.calls, limits: deps.options, authorizeRequest: deps.authorizeRequest };
  }

  /** Open streams now (for tests and metrics). */
  get openStreams(): number {
    return this.streams.size;
  }

  addTo(server: Server): void {
    const { open, listen } = ReplyChannelServiceService;
    const definition = {
      open: { ...open, requestSerialize: passThrough, requestDeserialize: passThrough, responseSerialize: passThrough, responseDeserialize: passThrough },
      listen: { ...listen, requestSerialize: passThrough, requestDeserialize: passThrough, responseSerialize: passThrough, responseDeserialize: passThrough },
    } as unknown as ServiceDefinition;
    server.addService(definition, { open: this.open, listen: this.listen });
  }

  /** Ends every Open and Listen stream with `error`, cancelling the requests in flight (the gateway is shutting down). */
  closeAll(error: MeshError): void {
    for (const stream of [...this.streams]) stream.close(error);
    this.deps.listeners.closeAll(error);
  }

  private readonly open = (call: ServerDuplexStream<Buffer, Buffer>): void => {
    // Open is a long-lived stream like a subscription, and held to the same count; each request on it is then
    // admitted as a unary call.
    try {
      this.checkCaller(call.metadata);
      this.deps.admission.admitSubscription();
    } catch (thrown) {
      call.emit("error", MeshError.from(thrown).toStatus());
      return;
    }
    const signal = new CallSignal(call, undefined);
    const stream = new OpenStream(call, signal, callerTraceContext(call.metadata), this.streamDeps, () => {
      this.streams.delete(stream);
      this.deps.admission.releaseSubscription();
    });
    this.streams.add(stream);
    stream.start();
  };

  // Listen's subscription slot is taken by the admission interceptor (gateway.ts, admissionKind).
  private readonly listen = (call: ServerWritableStream<Buffer, Buffer>): void => {
    try {
      this.checkCaller(call.metadata);
    } catch (thrown) {
      call.emit("error", MeshError.from(thrown).toStatus());
      return;
    }
    this.deps.listeners.listen(call);
  };

  private checkCaller(metadata: Metadata): void {
    if (!this.deps.options.clientToken) return;
    const header = firstValue(metadata, "authorization");
    checkCredentials(this.deps.options.clientToken, header?.startsWith("Bearer ") ? header.slice(7) : header);
  }
}
