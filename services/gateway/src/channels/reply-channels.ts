import { status } from "@grpc/grpc-js";
import { CommandAck } from "@recq-mesh/protocol/gen/recq/v1/command";
import { Outcome, OutcomeState } from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { MeshError } from "@recq-mesh/protocol";

/**
 * Where the final outcome of a command sent with `recq-reply-to: <channel>` goes: the listener of that channel
 * (ReplyChannelService.Listen), if there is one now.
 */
export interface ReplyChannels {
  /**
   * Delivers `outcome` to the listener of `channel`. False when nobody listens: the outcome is dropped (it can
   * still be read by its command id from CommandOutcomeService). Never throws, never waits.
   */
  deliver(channel: string, outcome: Outcome): boolean;
}

/** The outcome of a command that succeeded: `ack` is the encoded recq.v1.CommandAck its caller got. */
export function succeededOutcome(method: string, ack: Buffer): Outcome {
  const decoded = CommandAck.decode(ack);
  return Outcome.fromPartial({ commandId: decoded.commandId, state: OutcomeState.OUTCOME_STATE_SUCCEEDED, ack: decoded, method });
}

/** The outcome of a command that failed with `error`, as its caller got it. */
export function failedOutcome(method: string, commandId: string, error: MeshError): Outcome {
  return Outcome.fromPartial({
    commandId,
    state: OutcomeState.OUTCOME_STATE_FAILED,
    failure: { code: error.code as status, message: error.message, reason: error.reason },
    method,
  });
}

/**
 * A command's answer, also delivered to `channel` as its outcome once final: exactly what its caller gets (for a
 * command sent with `recq-reply-to`, as a unary call, over a link or on an Open stream).
 */
export function alsoToChannel(result: Promise<Buffer>, channel: string, method: string, commandId: string, channels: ReplyChannels): Promise<Buffer> {
  return result.then(
    (ack) => (channels.deliver(channel, succeededOutcome(method, ack)), ack),
    (thrown: unknown) => {
      channels.deliver(channel, failedOutcome(method, commandId, MeshError.from(thrown)));
      throw thrown;
    },
  );
}
