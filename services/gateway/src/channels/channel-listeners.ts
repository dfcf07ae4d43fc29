import { status, type ServerWritableStream } from "@grpc/grpc-js";
import { ListenRequest, ListenResponse } from "@recq-mesh/protocol/gen/recq/v1/reply_channel";
import type { Outcome } from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { MeshError, Reason, type Logger } from "@recq-mesh/protocol";
import { CallSignal } from "../server/call-signal";
import { SubscriptionBacklog, type BacklogLimits } from "../server/subscription-backlog";
import { checkChannelName } from "./channel-name";
import type { ReplyChannels } from "./reply-channels";

/** One Listen stream: the channel it holds, and its bounded way to the caller. */
interface Listener {
  readonly call: ServerWritableStream<Buffer, Buffer>;
  readonly signal: CallSignal;
  readonly backlog: SubscriptionBacklog;
}

/**
 * The named reply channels and their listeners: one listener per name at a time. A second Listen on a name that
 * is held is refused (ALREADY_EXISTS, CHANNEL_IN_USE) rather than taking it over: a takeover would let any caller
 * silently divert another's outcomes, and a listener that goes away frees its name as its stream closes.
 * Outcomes reach a listener through a SubscriptionBacklog: one that does not read is ended with RESOURCE_EXHAUSTED.
 */
export class ChannelListeners implements ReplyChannels {
  private readonly listeners = new Map<string, Listener>();

  constructor(
    private readonly backlogLimits: BacklogLimits,
    private readonly logger: Logger,
  ) {}

  /** Listeners registered now. */
  get size(): number {
    return this.listeners.size;
  }

  /** Serves one Listen call (its credentials already checked). */
  listen(call: ServerWritableStream<Buffer, Buffer>): void {
    const signal = new CallSignal(call, undefined);
    let channel: string;
    try {
      channel = checkChannelName(decodeListenRequest(call.request).channel, "the channel");
      if (this.listeners.has(channel)) {
        throw new MeshError(status.ALREADY_EXISTS, `channel ${channel} already has a listener: one listener per channel at a time`, Reason.CHANNEL_IN_USE);
      }
    } catch (thrown) {
      signal.cleanup();
      call.emit("error", MeshError.from(thrown).toStatus());
      return;
    }
    const listener: Listener = { call, signal, backlog: new SubscriptionBacklog(call, signal, this.backlogLimits) };
    this.listeners.set(channel, listener);
    signal.addListener(() => {
      if (this.listeners.get(channel) === listener) this.listeners.delete(channel);
      signal.cleanup();
      // A caller that cancelled hears nothing more; grpc-js ignores a status for a call already over.
      call.emit("error", MeshError.from(signal.reason).toStatus());
    });
    listener.backlog.write(encode({ message: { $case: "listening", value: { channel } } }));
  }

  deliver(channel: string, outcome: Outcome): boolean {
    const listener = this.listeners.get(channel);
    if (listener === undefined || listener.signal.aborted) {
      this.logger.debug("a command's outcome was dropped: nobody listens on its reply channel", { channel, commandId: outcome.commandId });
      return false;
    }
    listener.backlog.write(encode({ message: { $case: "outcome", value: outcome } }));
    return true;
  }

  /** Ends every listener with `error` (the gateway is shutting down). */
  closeAll(error: MeshError): void {
    for (const listener of [...this.listeners.values()]) listener.signal.abort(error);
  }
}

function encode(message: ListenResponse): Buffer {
  const bytes = ListenResponse.encode(message).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decodeListenRequest(bytes: Buffer): ListenRequest {
  try {
    return ListenRequest.decode(bytes);
  } catch (thrown) {
    throw new MeshError(status.INVALID_ARGUMENT, `the request is not a recq.v1.ListenRequest: ${String(thrown)}`, Reason.INVALID_REQUEST);
  }
}
