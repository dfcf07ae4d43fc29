import { Attribute } from "@recq-mesh/protocol";
import type { DispatchRunner } from "../link/link-client";
import { commandContext, encodeEvent } from "../handlers/command-runner";
import type { DomainEvent, EventCodecs, ServiceDefinitionLike } from "../handlers/definitions";
import { decodeRequest, failureOf, tracedRun } from "../handlers/traced-run";
import type { MeshCall } from "./mesh-call";
import type { ServiceContext, ServiceDefinition } from "./service-definition";

/** Runs one command method of a service: decode, handle (with the mesh to call), encode the service events as the reply. */
export function serviceRunner<D extends ServiceDefinitionLike, C extends EventCodecs>(definition: ServiceDefinition<D, C>, method: keyof D & string, call: MeshCall): DispatchRunner {
  const handle = definition.handle[method] as (command: unknown, context: ServiceContext) => DomainEvent<C>[] | Promise<DomainEvent<C>[]>;
  const { requestDeserialize } = definition.service[method]!;
  return (dispatch, metadata, reply, cancellation) => {
    tracedRun(dispatch.method, metadata, { [Attribute.COMMAND_ID]: dispatch.commandId }, async () => {
      const command = decodeRequest(requestDeserialize, dispatch.payload, dispatch.method);
      // Assigned onto the command's context, not spread: its caller and signal are getters, made only when read.
      const context: ServiceContext = Object.assign(commandContext(dispatch, 0, cancellation), { call });
      const events = await handle(command, context);
      // No snapshot: a service has no state.
      return { events: events.map((event) => encodeEvent(definition.events, event)), snapshot: undefined };
    }).then(
      (outcome) => reply({ $case: "command", value: outcome }),
      (thrown) => reply(failureOf(thrown)),
    );
  };
}
