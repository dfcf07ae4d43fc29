import type { DescriptorCatalog } from "../descriptors/descriptor-catalog";
import type { KnownNames } from "./event-filter";

/**
 * The names a subscription filter may use: any message of the descriptor sets as an event type (the gateway
 * stores no event whose type is not one: handler-event-check.ts), and the aggregate types of the command services.
 */
export function knownEventNames(catalog: DescriptorCatalog): KnownNames {
  return {
    isEventType: (fullName) => catalog.registry.getMessage(fullName) !== undefined,
    aggregateTypes: new Set(catalog.services.filter((service) => service.kind === "command").map((service) => service.aggregateType)),
  };
}
