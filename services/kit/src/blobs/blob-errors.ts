import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";

export function blobNotFound(reference: string): MeshError {
  return new MeshError(status.NOT_FOUND, `no blob ${reference}`);
}

export function blobTooLarge(maxBytes: number): MeshError {
  return new MeshError(status.RESOURCE_EXHAUSTED, `the content passed ${maxBytes} bytes, the most this store takes in one blob`, Reason.REQUEST_TOO_LARGE);
}

/** What an aborted write or read throws: the signal's reason when it is one, else CANCELLED. */
export function abortedBy(signal: AbortSignal): unknown {
  return signal.reason instanceof Error ? signal.reason : new MeshError(status.CANCELLED, "the blob operation was cancelled", Reason.CANCELLED);
}
