import { CommandAck } from "@recq-mesh/protocol/gen/recq/v1/command";
import type { Outcome } from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { failedOutcome, succeededOutcome } from "../outcomes/outcome-messages";
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


/**
 * A command's answer, also delivered to `channel` as its outcome once final: exactly what its caller gets (for a
 * command sent with `recq-reply-to`, as a unary call, over a link or on an Open stream).
 */
export function alsoToChannel(result: Promise<Buffer>, channel: string, method: string, commandId: string, channels: ReplyChannels): Promise<Buffer> {
  return result.then(
    (ack) => (channels.deliver(channel, succeededOutcome(commandId, CommandAck.decode(ack), method)), ack),
    (thrown: unknown) => {
      channels.deliver(channel, failedOutcome(commandId, MeshError.from(thrown), method));
      throw thrown;
    },
  );
}
