import { CommandAck } from "@recq-mesh/protocol/gen/recq/v1/command";
import { Outcome, OutcomeState } from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { CommandOutcome } from "../store/event-store";

/** recq.v1.Outcome messages, built in one place for the outcome service, the executor's hook and the acceptance. */

export function unknownOutcome(commandId: string): Outcome {
  return Outcome.fromPartial({ commandId, state: OutcomeState.OUTCOME_STATE_UNKNOWN });
}

export function waitingOutcome(commandId: string, state: OutcomeState.OUTCOME_STATE_ACCEPTED | OutcomeState.OUTCOME_STATE_RUNNING, method: string, acceptedAtMs?: number): Outcome {
  return Outcome.fromPartial({ commandId, state, method, acceptedTime: acceptedAtMs === undefined ? undefined : new Date(acceptedAtMs) });
}

/** The final outcome the event store recorded. */
export function recordedOutcome(recorded: CommandOutcome, method = ""): Outcome {
  if (recorded.kind === "failed") {
    return Outcome.fromPartial({
      commandId: recorded.commandId,
      state: OutcomeState.OUTCOME_STATE_FAILED,
      failure: { code: recorded.code, message: recorded.message, reason: recorded.reason },
      method,
    });
  }
  return succeededOutcome(recorded.commandId, CommandAck.fromPartial({ commandId: recorded.commandId, position: String(recorded.position), sequence: String(recorded.sequence) }), method);
}

export function succeededOutcome(commandId: string, ack: CommandAck, method = ""): Outcome {
  return Outcome.fromPartial({ commandId, state: OutcomeState.OUTCOME_STATE_SUCCEEDED, ack, method });
}

export function failedOutcome(commandId: string, error: MeshError, method = ""): Outcome {
  return Outcome.fromPartial({ commandId, state: OutcomeState.OUTCOME_STATE_FAILED, failure: { code: error.code, message: error.message, reason: error.reason }, method });
}

export function isFinal(outcome: Outcome): boolean {
  return outcome.state === OutcomeState.OUTCOME_STATE_SUCCEEDED || outcome.state === OutcomeState.OUTCOME_STATE_FAILED;
}

/** The CommandAck of an accepted command: its id, and position and sequence 0 (nothing is appended yet). */
export function acceptedAck(commandId: string): Buffer {
  return Buffer.from(CommandAck.encode({ commandId, position: "0", sequence: "0" }).finish());
}

/** What a synchronous caller gets for a final outcome: the encoded CommandAck, or the failure thrown. */
export function answerOf(outcome: Outcome): Buffer {
  if (outcome.state === OutcomeState.OUTCOME_STATE_SUCCEEDED && outcome.ack !== undefined) return Buffer.from(CommandAck.encode(outcome.ack).finish());
  const failure = outcome.failure;
  if (outcome.state === OutcomeState.OUTCOME_STATE_FAILED && failure !== undefined) throw new MeshError(failure.code as status, failure.message, failure.reason);
  throw new MeshError(status.INTERNAL, `command ${outcome.commandId} has no final outcome`, Reason.INTERNAL);
}
