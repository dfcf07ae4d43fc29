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

/**
 * Whether `key` is the consumer key of `consumer` at a generation below `generation`: the name itself (generation 1),
 * or `name~gK` with 1 < K < `generation`. What a projection serving `generation` has left behind.
 */
export function isOlderGenerationKey(key: string, consumer: string, generation: number): boolean {
  if (key === consumer) return generation > 1;
  const suffix = key.startsWith(`${consumer}~g`) ? key.slice(consumer.length + 2) : "";
  if (!/^[1-9][0-9]*$/.test(suffix)) return false;
  const older = Number(suffix);
  return older > 1 && older < generation;
}
