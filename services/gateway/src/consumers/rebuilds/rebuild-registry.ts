import { RebuildState } from "@recq-mesh/protocol/gen/recq/v1/projections";

/** What the gateway knows of a projection's rebuild. */
export interface RebuildRecord {
  generation: number;
  state: RebuildState;
  /** Why it was abandoned. */
  message: string;
  /** The position the new generation had reached when it completed or was abandoned (while running, the hub's). */
  finalPosition: number;
  /** The instance asked to run it. */
  instanceId: string;
}

/**
 * The rebuild of each projection, in progress or last seen: REQUESTED when asked of the active instance, RUNNING once
 * its stream of the new generation opened, COMPLETED when a stream of that generation opened as the projection's own,
 * ABANDONED when the instance or the stream went away before. Kept in memory: a rebuild lives in the instance that
 * runs it; after a gateway restart, the kit's rebuild stream reopens and shows it RUNNING again.
 */
export class RebuildRegistry {
  private readonly records = new Map<string, RebuildRecord>();

  of(projection: string): RebuildRecord | undefined {
    return this.records.get(projection);
  }

  /** The rebuild that is requested or running, if any. */
  inProgress(projection: string): RebuildRecord | undefined {
    const record = this.records.get(projection);
    return record !== undefined && isInProgress(record.state) ? record : undefined;
  }

  requested(projection: string, generation: number, instanceId: string): RebuildRecord {
    const record: RebuildRecord = { generation, state: RebuildState.REBUILD_STATE_REQUESTED, message: "", finalPosition: 0, instanceId };
    this.records.set(projection, record);
    return record;
  }

  /** A rebuild stream opened: running, whether this gateway asked for it or not (it restarted meanwhile). */
  running(projection: string, generation: number, instanceId: string): void {
    const record = this.records.get(projection);
    if (record !== undefined && record.generation === generation && isInProgress(record.state)) {
      record.state = RebuildState.REBUILD_STATE_RUNNING;
      record.instanceId = instanceId;
      return;
    }
    this.records.set(projection, { generation, state: RebuildState.REBUILD_STATE_RUNNING, message: "", finalPosition: 0, instanceId });
  }

  /** The projection's own stream opened at `generation`: a rebuild of it, or of an older one, is complete. */
  servedAt(projection: string, generation: number, position: number): void {
    const record = this.inProgress(projection);
    if (record === undefined || record.generation > generation) return;
    record.state = RebuildState.REBUILD_STATE_COMPLETED;
    record.finalPosition = Math.max(record.finalPosition, position);
  }

  /** The rebuild's stream, or the instance asked to run it, went away before the switch. */
  abandoned(projection: string, generation: number, position: number, message: string): void {
    const record = this.inProgress(projection);
    if (record === undefined || record.generation !== generation) return;
    record.state = RebuildState.REBUILD_STATE_ABANDONED;
    record.message = message;
    record.finalPosition = Math.max(record.finalPosition, position);
  }
}

function isInProgress(state: RebuildState): boolean {
  return state === RebuildState.REBUILD_STATE_REQUESTED || state === RebuildState.REBUILD_STATE_RUNNING;
}
