import { ConsumeResponse, ConsumerRole } from "@recq-mesh/protocol/gen/recq/v1/link";
import type { ProjectionRebuild, ProjectionStatus } from "@recq-mesh/protocol/gen/recq/v1/projections";
import type { ConsumerGroup } from "../consumer-hub";
import type { ConsumerSession } from "../consumer-session";

export type { ProjectionRebuild, ProjectionStatus };

/**
 * The standby that takes over when the active instance leaves: the oldest of the highest generation, so that the
 * stream a rebuild's switch opened (of the new generation) replaces the old one, and no instance of a dropped
 * generation comes back.
 */
export function nextActive(standbys: ConsumerSession[]): ConsumerSession | undefined {
  let chosen = -1;
  standbys.forEach((standby, index) => {
    if (chosen === -1 || standby.generation > standbys[chosen]!.generation) chosen = index;
  });
  return chosen === -1 ? undefined : standbys.splice(chosen, 1)[0];
}

export function projectionStatus(
  projection: string,
  group: ConsumerGroup,
  position: number,
  head: number,
  rebuild: ProjectionRebuild | undefined,
  parkedCount: number,
): ProjectionStatus {
  return {
    projection,
    generation: group.generation,
    position: String(position),
    head: String(head),
    lag: String(Math.max(0, head - position) + parkedCount),
    parkedCount,
    activeInstance: group.active?.open.instanceId ?? "",
    standbys: group.standbys.length,
    rebuild,
  };
}

/** The message that asks the active instance to rebuild into `generation`: no events, nothing else new. */
export function rebuildRequest(active: ConsumerSession, generation: number, current: number, head: number): ConsumeResponse {
  return ConsumeResponse.fromPartial({
    headPosition: String(Math.max(head, active.cursor)),
    reflectedPosition: String(active.reported),
    role: ConsumerRole.CONSUMER_ROLE_UNSPECIFIED,
    rebuildGeneration: generation,
    currentGeneration: current,
  });
}
