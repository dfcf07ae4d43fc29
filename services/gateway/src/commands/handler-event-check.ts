import { fromBinary, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { MeshError, Reason } from "@recq-mesh/protocol";
import type { CommandOutcome } from "@recq-mesh/protocol/gen/recq/v1/link";

/**
 * Refuses a handler's events (and snapshot) that are not what they say they are: a type that is no message of the
 * gateway's descriptor sets, or bytes that do not decode as that message. Stored, such an event would be
 * acknowledged and then fail every projector that reads it, for good — one handler's bug poisoning a projection
 * for everyone. The check decodes each payload once (the cost per event is in `npm run bench:events`) and keeps
 * nothing; what is stored is still the handler's bytes as they came.
 */
export class HandlerEventCheck {
  constructor(private readonly registry: FileRegistry) {}

  /** Throws MeshError INTERNAL / INVALID_HANDLER_REPLY naming the first event that is not a valid message. */
  check(methodName: string, outcome: CommandOutcome): void {
    outcome.events.forEach((event, index) => this.checkPayload(methodName, `event ${index}`, event.type, event.payload));
    if (outcome.snapshot !== undefined) this.checkPayload(methodName, "the snapshot", outcome.snapshot.type, outcome.snapshot.payload);
  }

  private checkPayload(methodName: string, what: string, type: string, payload: Buffer): void {
    // The registry's own map answers by name; a cache here would only grow with whatever names a handler sends.
    const schema: DescMessage | undefined = this.registry.getMessage(type);
    if (schema === undefined) {
      throw refused(`${methodName}: ${what} has type "${type}", which is no message of the gateway's descriptor sets`);
    }
    try {
      fromBinary(schema, payload);
    } catch (error: unknown) {
      throw refused(`${methodName}: ${what} is not a valid ${type}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

function refused(message: string): MeshError {
  return new MeshError(status.INTERNAL, `the handler's reply was refused: ${message}`, Reason.INVALID_HANDLER_REPLY);
}
