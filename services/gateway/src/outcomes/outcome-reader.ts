import { status } from "@grpc/grpc-js";
import { OutcomeState, type Outcome } from "@recq-mesh/protocol/gen/recq/v1/outcomes";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { AcceptedExecutor } from "../accepted/accepted-executor";
import type { CommandPipeline } from "../commands/command-pipeline";
import type { EventStore } from "../store/event-store";
import { recordedOutcome, unknownOutcome, waitingOutcome } from "./outcome-messages";

/**
 * A command id's outcome now. Live state first — the executor's accepted commands, then the pipeline's running
 * executions — and only then the store: both record the final outcome before they let go of the command, so a
 * command that finishes between the two looks is found in the store, never missed.
 */
export class OutcomeReader {
  constructor(
    private readonly store: EventStore,
    private readonly pipeline: CommandPipeline,
    private readonly executor: AcceptedExecutor | undefined,
  ) {}

  async current(commandId: string): Promise<Outcome> {
    const accepted = this.executor?.stateOf(commandId);
    if (accepted !== undefined) {
      const state = accepted.running ? OutcomeState.OUTCOME_STATE_RUNNING : OutcomeState.OUTCOME_STATE_ACCEPTED;
      return waitingOutcome(commandId, state, accepted.method, accepted.acceptedAtMs);
    }
    const running = this.pipeline.runningMethod(commandId);
    if (running !== undefined) return waitingOutcome(commandId, OutcomeState.OUTCOME_STATE_RUNNING, running);
    let recorded;
    try {
      recorded = await this.store.findOutcome(commandId);
    } catch (thrown) {
      throw new MeshError(status.UNAVAILABLE, `the event store is unavailable: ${String(thrown)}`, Reason.STORE_UNAVAILABLE, { cause: thrown });
    }
    return recorded === undefined ? unknownOutcome(commandId) : recordedOutcome(recorded);
  }
}
