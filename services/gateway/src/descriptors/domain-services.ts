import type { DescMessage, DescMethod, DescService, FileRegistry } from "@bufbuild/protobuf";
import type { MethodEntry, ServiceEntry, ServiceKind } from "./catalog-entries";
import { ServiceKindValue, type MeshOptionReader } from "./mesh-options";
import { findRoutingKey, findNestedRoutingKeys } from "./routing-key-field";

/** Every command must answer this: confirmation only, never the changed data (README "Writing contracts"). */
export const COMMAND_ACK_TYPE = "recq.v1.CommandAck";

export interface DomainServices {
  readonly services: ServiceEntry[];
  /** Contract errors found; the catalog refuses to load when there is any. */
  readonly problems: string[];
}

/** Finds the services marked `(recq.v1.service_kind)`, in the set's order, and checks their contracts. */
export function collectDomainServices(registry: FileRegistry, options: MeshOptionReader): DomainServices {
  const services: ServiceEntry[] = [];
  const problems: string[] = [];
  for (const file of registry.files) {
    for (const service of file.services) {
      const kind = serviceKindOf(service, options, problems);
      if (kind !== undefined) services.push(serviceEntry(service, kind, options, problems));
    }
  }
  checkNestedRoutingKeys(services, registry, options, problems);
  return { services, problems };
}

function serviceKindOf(service: DescService, options: MeshOptionReader, problems: string[]): ServiceKind | undefined {
  const value = options.serviceKind(service);
  if (value === undefined) return undefined;
  if (value === ServiceKindValue.COMMAND) return "command";
  if (value === ServiceKindValue.QUERY) return "query";
  problems.push(
    `service ${service.typeName}: (recq.v1.service_kind) is ${value}; it must be SERVICE_KIND_COMMAND or SERVICE_KIND_QUERY`,
  );
  return undefined;
}

function serviceEntry(service: DescService, kind: ServiceKind, options: MeshOptionReader, problems: string[]): ServiceEntry {
  return {
    fullName: service.typeName,
    kind,
    aggregateType: options.aggregateType(service) || service.typeName,
    methods: service.methods.map((method) => methodEntry(method, kind, options, problems)),
  };
}

function methodEntry(method: DescMethod, kind: ServiceKind, options: MeshOptionReader, problems: string[]): MethodEntry {
  const name = `${method.parent.typeName}/${method.name}`;
  checkStreaming(method, name, kind, problems);
  const entry: MethodEntry = {
    path: `/${name}`,
    name,
    service: method.parent.typeName,
    kind,
    requestType: method.input.typeName,
    responseType: method.output.typeName,
    serverStreaming: method.methodKind === "server_streaming",
    clientStreaming: method.methodKind === "client_streaming",
  };
  if (kind === "query") return entry;
  if (method.output.typeName !== COMMAND_ACK_TYPE) {
    problems.push(`command ${name} returns ${method.output.typeName}; every command must return ${COMMAND_ACK_TYPE}`);
  }
  const routingKey = findRoutingKey(method.input, options, problems);
  if (entry.clientStreaming && routingKey === undefined) {
    // An upload holds its aggregate's turn while its content streams: without a routing key there is no aggregate.
    problems.push(`command ${name} is client-streaming (an upload); its request ${method.input.typeName} must mark a (recq.v1.routing_key), sent in the first message`);
  }
  return routingKey === undefined ? entry : { ...entry, routingKey };
}

/**
 * Commands are unary or client-streaming (an upload: `rpc AttachFile(stream AttachFile) returns (recq.v1.CommandAck)`,
 * whose first message carries the routing key); queries are unary or server-streaming; nothing is bidi-streaming.
 */
function checkStreaming(method: DescMethod, name: string, kind: ServiceKind, problems: string[]): void {
  if (method.methodKind === "bidi_streaming") {
    problems.push(`method ${name} is bidi-streaming; domain services may only have unary, server-streaming (queries) and client-streaming (commands) methods`);
  } else if (kind === "query" && method.methodKind === "client_streaming") {
    problems.push(`query ${name} is client-streaming; only a command may stream its request (an upload)`);
  } else if (kind === "command" && method.methodKind === "server_streaming") {
    problems.push(`command ${name} is server-streaming; commands are unary and answer one ${COMMAND_ACK_TYPE}`);
  }
}

/** A routing key only works on the command message itself: the gateway scans top-level fields, never nested ones. */
function checkNestedRoutingKeys(
  services: readonly ServiceEntry[],
  registry: FileRegistry,
  options: MeshOptionReader,
  problems: string[],
): void {
  const commandTypes = new Set(
    services.flatMap((service) => service.methods.filter((method) => method.kind === "command").map((method) => method.requestType)),
  );
  for (const typeName of commandTypes) {
    const command = registry.getMessage(typeName) as DescMessage;
    for (const nested of findNestedRoutingKeys(command, options, commandTypes)) {
      problems.push(
        `command message ${typeName}: field ${nested} is marked (recq.v1.routing_key) inside a nested message; ` +
          "the routing key must be a top-level field of the command message",
      );
    }
  }
}
