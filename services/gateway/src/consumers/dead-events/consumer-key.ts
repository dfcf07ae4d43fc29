import type { ConsumerOpen } from "@recq-mesh/protocol/gen/recq/v1/link";
import { generationKey } from "@recq-mesh/protocol";

/**
 * What parked events are kept under for a consumer stream: its name and generation (`generationKey`: the name for a
 * projection never rebuilt, `name~gN` after a rebuild into generation N). A rebuild's stream so parks apart from the
 * generation serving, and the new generation keeps what its rebuild parked once it serves.
 */
export function consumerKey(open: Pick<ConsumerOpen, "consumer" | "generation">): string {
  return generationKey(open.consumer, open.generation);
}
