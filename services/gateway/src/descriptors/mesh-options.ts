import { getOption, hasOption, type DescExtension, type DescField, type DescService, type FileRegistry } from "@bufbuild/protobuf";

/** Full names of the custom options declared in recq/v1/options.proto. */
export const MeshOptionName = {
  SERVICE_KIND: "recq.v1.service_kind",
  AGGREGATE_TYPE: "recq.v1.aggregate_type",
  ROUTING_KEY: "recq.v1.routing_key",
} as const;

/** Values of the `recq.v1.ServiceKind` enum. */
export const ServiceKindValue = { UNSPECIFIED: 0, COMMAND: 1, QUERY: 2 } as const;

/**
 * Reads the mesh's custom options from descriptors of one registry. A set that does not contain
 * recq/v1/options.proto has no domain services: every reader then answers "not set".
 */
export interface MeshOptionReader {
  /** The `(recq.v1.service_kind)` enum number, or undefined when the service does not carry the option. */
  serviceKind(service: DescService): number | undefined;
  /** The `(recq.v1.aggregate_type)` string, or undefined when the service does not carry the option. */
  aggregateType(service: DescService): string | undefined;
  /** True when the field is marked `[(recq.v1.routing_key) = true]`. */
  isRoutingKey(field: DescField): boolean;
}

export function meshOptionReader(registry: FileRegistry): MeshOptionReader {
  const serviceKind = registry.getExtension(MeshOptionName.SERVICE_KIND);
  const aggregateType = registry.getExtension(MeshOptionName.AGGREGATE_TYPE);
  const routingKey = registry.getExtension(MeshOptionName.ROUTING_KEY);
  return {
    serviceKind: (service) => numberOption(service, serviceKind),
    aggregateType: (service) => stringOption(service, aggregateType),
    isRoutingKey: (field) => routingKey !== undefined && hasOption(field, routingKey) && getOption(field, routingKey) === true,
  };
}

function numberOption(service: DescService, extension: DescExtension | undefined): number | undefined {
  if (extension === undefined || !hasOption(service, extension)) return undefined;
  const value: unknown = getOption(service, extension);
  return typeof value === "number" ? value : undefined;
}

function stringOption(service: DescService, extension: DescExtension | undefined): string | undefined {
  if (extension === undefined || !hasOption(service, extension)) return undefined;
  const value: unknown = getOption(service, extension);
  return typeof value === "string" ? value : undefined;
}
