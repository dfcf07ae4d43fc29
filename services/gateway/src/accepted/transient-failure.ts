import { status } from "@grpc/grpc-js";
import { Reason, type MeshError } from "@recq-mesh/protocol";

/** Codes that say "not now" rather than "no": no handler linked or the handler lost, the store away, conflicts, full queues, a deadline. */
const transientCodes = new Set<number>([status.UNAVAILABLE, status.ABORTED, status.RESOURCE_EXHAUSTED, status.DEADLINE_EXCEEDED, status.CANCELLED]);

/**
 * Whether an accepted command that failed this way is tried again later (until its time-to-live passes) rather than
 * failed for good. A message too large for a link is RESOURCE_EXHAUSTED too, but a retry cannot make it fit.
 */
export function isTransientFailure(error: MeshError): boolean {
  return transientCodes.has(error.code) && error.reason !== Reason.MESSAGE_TOO_LARGE;
}
