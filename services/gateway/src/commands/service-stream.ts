import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";

/** Where the events of one command are appended: an aggregate's stream at the sequence its handler decided on. */
export interface AppendStream {
  aggregateId: string;
  expectedSequence: number;
}

/**
 * The stream a command's events go to. A command with a routing key appends to its aggregate's stream after the
 * history that was shipped. A command without one is a SERVICE's: it has no state and no history, and the events it
 * emits (service events) are stored under the service's aggregate type with the command id as aggregate id — each
 * command's events are a stream of their own (sequence 1..n), so concurrent service commands never conflict, and a
 * second append for the same command id (the same command run elsewhere at the same time) conflicts instead of
 * storing its events twice. The stream outlives the command's outcome (RECQ_OUTCOME_RETENTION_MS): a repeat of the
 * command id whose stream exists is answered from it, without running the service again. A service command that
 * emits nothing records only its outcome, so a repeat after that has expired runs it again.
 */
export function appendStreamOf(aggregateId: string, expectedSequence: number, commandId: string, eventCount: number, hasSnapshot: boolean): AppendStream {
  if (aggregateId !== "") return { aggregateId, expectedSequence };
  if (hasSnapshot) {
    throw new MeshError(
      status.INTERNAL,
      "the handler's reply was refused: a command without a routing key (a service's) has no aggregate state to snapshot",
      Reason.INVALID_HANDLER_REPLY,
    );
  }
  return { aggregateId: eventCount === 0 ? "" : commandId, expectedSequence: 0 };
}

/** Whether an append to `stream` was a service command's events (their stream is named by the command id). */
export function isServiceStream(routingKey: string, stream: AppendStream): boolean {
  return routingKey === "" && stream.aggregateId !== "";
}
