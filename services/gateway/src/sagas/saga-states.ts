import { status } from "@grpc/grpc-js";
import { SagaStepRecorded, type LoadSagaStateResponse, type SagaState } from "@recq-mesh/protocol/gen/recq/v1/sagas";
import { MeshError, Reason, reservedCommandId } from "@recq-mesh/protocol";
import { DuplicateCommandError } from "../store/duplicate-command-error";
import type { AppendResult, EventStore } from "../store/event-store";

/** The event type of a saga step in the store, and of its stream's snapshot. */
export const SAGA_STEP_TYPE = "recq.v1.SagaStepRecorded";
/** Whether an event of the store is a saga step (kept out of clients' subscriptions and of consumers that name no types). */
export function isSagaStep(type: string): boolean {
  return type === SAGA_STEP_TYPE;
}

/** Saga streams' aggregate types start so; no command service's aggregate type may (they are the gateway's own). */
export const SAGA_AGGREGATE_PREFIX = "recq.saga.";

export interface SagaStepRequest {
  saga: string;
  association: string;
  expectedVersion: number;
  position: number;
  state: SagaState;
  ended: boolean;
}

export interface SagaStateLimits {
  /** RECQ_MAX_SAGA_STATE_BYTES. */
  maxStateBytes: number;
  /** An association value is an aggregate id of the store: RECQ_MAX_ROUTING_KEY_BYTES. */
  maxAssociationBytes: number;
}

/**
 * Saga instances' state in the event store: one stream per instance (aggregate type `recq.saga.<saga>`, aggregate
 * id the association value), a `recq.v1.SagaStepRecorded` event per step, the last one also the stream's snapshot
 * so a load reads one record. The expected sequence makes each step exactly-once: a step decided on an old version
 * conflicts, and a step repeated after its answer was lost finds its own position recorded.
 */
export class SagaStates {
  constructor(
    private readonly store: EventStore,
    private readonly limits: SagaStateLimits,
  ) {}

  async load(saga: string, association: string): Promise<LoadSagaStateResponse> {
    this.checkInstance(saga, association);
    const history = await this.store.readAggregate(SAGA_AGGREGATE_PREFIX + saga, association);
    const last = lastStep(history.snapshot?.payload, history.events.at(-1)?.payload);
    if (last === undefined) return { exists: false, version: "0", state: undefined, ended: false, lastPosition: "0" };
    return { exists: true, version: String(history.sequence), state: last.state, ended: last.ended, lastPosition: last.position };
  }

  /** Records a step; resolves to the instance's version after it. */
  async record(step: SagaStepRequest): Promise<number> {
    this.checkInstance(step.saga, step.association);
    if (!Number.isSafeInteger(step.position) || step.position < 1) {
      throw new MeshError(status.INVALID_ARGUMENT, "a saga step must name the position of the event it handled (1 or more)", Reason.INVALID_REQUEST);
    }
    const stateBytes = step.state.payload.length + Buffer.byteLength(step.state.type);
    if (stateBytes > this.limits.maxStateBytes) {
      throw new MeshError(
        status.INVALID_ARGUMENT,
        `the state of saga ${step.saga} (${stateBytes} bytes) is larger than RECQ_MAX_SAGA_STATE_BYTES (${this.limits.maxStateBytes})`,
        Reason.SAGA_STATE_TOO_LARGE,
      );
    }
    const payload = Buffer.from(
      SagaStepRecorded.encode({ saga: step.saga, association: step.association, position: String(step.position), state: step.state, ended: step.ended }).finish(),
    );
    const result = await this.append(step, payload);
    if (result.kind === "appended") return result.ack.sequence;
    return this.recordedAlready(step);
  }

  private async append(step: SagaStepRequest, payload: Buffer): Promise<AppendResult> {
    try {
      return await this.store.append({
        aggregateType: SAGA_AGGREGATE_PREFIX + step.saga,
        aggregateId: step.association,
        expectedSequence: step.expectedVersion,
        // One id per (saga, instance, event): the store's outcome of a step names exactly what it was. Reserved
        // (`recq:`), so no caller's command can hold it first.
        commandId: reservedCommandId("saga-step", [step.saga, step.association], [step.position]),
        events: [{ type: SAGA_STEP_TYPE, payload, metadata: {} }],
        snapshot: { sequence: step.expectedVersion + 1, type: SAGA_STEP_TYPE, payload },
      });
    } catch (thrown) {
      // A store that dedupes by command id (MongoDB) finds the same step recorded: the conflict path tells which.
      if (thrown instanceof DuplicateCommandError) return { kind: "conflict", actualSequence: -1 };
      throw thrown;
    }
  }

  /** A conflict is the same step recorded before (its answer lost): answer its version; else a real conflict. */
  private async recordedAlready(step: SagaStepRequest): Promise<number> {
    const current = await this.load(step.saga, step.association);
    if (current.exists && Number(current.lastPosition) === step.position) return Number(current.version);
    throw new MeshError(
      status.ABORTED,
      `saga ${step.saga} instance ${step.association} is at version ${current.version}, not ${step.expectedVersion}: load it again`,
      Reason.AGGREGATE_CONFLICT,
    );
  }

  private checkInstance(saga: string, association: string): void {
    if (saga === "") throw new MeshError(status.INVALID_ARGUMENT, "saga is required", Reason.INVALID_REQUEST);
    if (association === "") throw new MeshError(status.INVALID_ARGUMENT, "association is required", Reason.INVALID_REQUEST);
    const bytes = Buffer.byteLength(association);
    if (bytes > this.limits.maxAssociationBytes) {
      throw new MeshError(
        status.INVALID_ARGUMENT,
        `the association of saga ${saga} (${bytes} bytes) is longer than RECQ_MAX_ROUTING_KEY_BYTES (${this.limits.maxAssociationBytes})`,
        Reason.INVALID_REQUEST,
      );
    }
  }
}

/** The last step of an instance: its last event, or (every event folded into it) its snapshot. */
function lastStep(snapshot: Buffer | undefined, lastEvent: Buffer | undefined): SagaStepRecorded | undefined {
  const bytes = lastEvent ?? snapshot;
  return bytes === undefined ? undefined : SagaStepRecorded.decode(bytes);
}
