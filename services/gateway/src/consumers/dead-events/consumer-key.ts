import type { ConsumerOpen } from "@recq-mesh/protocol/gen/recq/v1/link";

/**
 * What parked events are kept under for a consumer stream: the consumer name. One function so that a consumer's
 * identity can grow (a projection rebuilt into a new generation parks apart from the one serving) in one place.
 */
export function consumerKey(open: Pick<ConsumerOpen, "consumer">): string {
  return open.consumer;
}
