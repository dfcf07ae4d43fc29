import { create, createFileRegistry, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorSet } from "@bufbuild/protobuf/wkt";
import type { FileEntry, MethodEntry, ServiceEntry } from "./catalog-entries";
import { collectDomainServices } from "./domain-services";
import { filesWithDependencies } from "./file-dependencies";
import { gatewayDescriptorSet } from "./gateway-descriptors";
import { InvalidDescriptorSetError } from "./invalid-descriptor-set-error";
import { meshOptionReader } from "./mesh-options";
import { mergeDescriptorSets } from "./merged-descriptor-sets";

export type { FileEntry, MethodEntry, RoutingKeyField, ServiceEntry, ServiceKind } from "./catalog-entries";
export { InvalidDescriptorSetError } from "./invalid-descriptor-set-error";

/**
 * Everything the gateway knows about the contracts it serves, learnt from the descriptor sets: the domain
 * services (marked with recq.v1 options) and every file of the sets, for reflection.
 */
export interface DescriptorCatalog {
  /** Services marked `(recq.v1.service_kind)`, in the sets' order. */
  readonly services: readonly ServiceEntry[];
  /** Every file of the sets and the gateway's own, in the sets' order. */
  readonly files: readonly FileEntry[];
  /** All descriptors of the sets, for lookups beyond domain services (reflection's symbol index). */
  readonly registry: FileRegistry;
  /** A domain method by its HTTP/2 path, `/todo.v1.TodoListCommandService/CreateTodoList`. */
  methodByPath(path: string): MethodEntry | undefined;
  /** A domain service by full name, `todo.v1.TodoListCommandService`. */
  serviceByName(fullName: string): ServiceEntry | undefined;
  /** A file by the name it is imported by, `todo/v1/commands.proto`. */
  fileByName(name: string): FileEntry | undefined;
  /** The file and every file it imports, transitively: dependencies before dependents, the file itself last. */
  fileWithDependencies(name: string): FileEntry[] | undefined;
}

/**
 * Reads the FileDescriptorSets of the contracts to serve (`buf build --as-file-descriptor-set`, imports
 * included), adds the gateway's own services (health, reflection), and checks the domain contracts. Throws
 * InvalidDescriptorSetError listing every problem found.
 */
export function loadDescriptorCatalog(...sets: Uint8Array[]): DescriptorCatalog {
  if (sets.length === 0) throw new InvalidDescriptorSetError(["no descriptor set given"]);
  const files = mergeDescriptorSets(sets, gatewayDescriptorSet());
  const registry = createRegistry(create(FileDescriptorSetSchema, { file: files.map((file) => file.proto) }));
  const entries = files.map(({ proto, bytes }) => ({ name: proto.name, dependencies: [...proto.dependency], bytes }));
  const { services, problems } = collectDomainServices(registry, meshOptionReader(registry));
  if (problems.length > 0) throw new InvalidDescriptorSetError([...new Set(problems)]);
  return catalogOf(services, entries, registry);
}

function createRegistry(set: FileDescriptorSet): FileRegistry {
  try {
    return createFileRegistry(set);
  } catch (error: unknown) {
    // Typically an import missing from the set: build it with imports (buf build --as-file-descriptor-set).
    throw new InvalidDescriptorSetError([`the files do not resolve: ${messageOf(error)}`], { cause: error });
  }
}

function catalogOf(services: readonly ServiceEntry[], files: readonly FileEntry[], registry: FileRegistry): DescriptorCatalog {
  const methodsByPath = new Map(services.flatMap((service) => service.methods.map((method) => [method.path, method] as const)));
  const servicesByName = new Map(services.map((service) => [service.fullName, service]));
  const filesByName = new Map(files.map((file) => [file.name, file]));
  return {
    services,
    files,
    registry,
    methodByPath: (path) => methodsByPath.get(path),
    serviceByName: (fullName) => servicesByName.get(fullName),
    fileByName: (name) => filesByName.get(name),
    fileWithDependencies: (name) => filesWithDependencies(name, filesByName),
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
