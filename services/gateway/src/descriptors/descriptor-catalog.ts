import { createFileRegistry, fromBinary, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorSet } from "@bufbuild/protobuf/wkt";
import type { FileEntry, MethodEntry, ServiceEntry } from "./catalog-entries";
import { collectDomainServices } from "./domain-services";
import { filesWithDependencies } from "./file-dependencies";
import { sliceFileDescriptorBytes } from "./file-descriptor-bytes";
import { InvalidDescriptorSetError } from "./invalid-descriptor-set-error";
import { meshOptionReader } from "./mesh-options";

export type { FileEntry, MethodEntry, RoutingKeyField, ServiceEntry, ServiceKind } from "./catalog-entries";
export { InvalidDescriptorSetError } from "./invalid-descriptor-set-error";

/**
 * Everything the gateway knows about the contracts it serves, learnt from one FileDescriptorSet: the domain
 * services (marked with recq.v1 options) and every file of the set, for reflection.
 */
export interface DescriptorCatalog {
  /** Services marked `(recq.v1.service_kind)`, in the set's order. */
  readonly services: readonly ServiceEntry[];
  /** Every file of the set, in the set's order. */
  readonly files: readonly FileEntry[];
  /** All descriptors of the set, for lookups beyond domain services (reflection's symbol index). */
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
 * Reads a FileDescriptorSet (`buf build --as-file-descriptor-set`, imports included) and checks the domain
 * contracts. Throws InvalidDescriptorSetError listing every problem found.
 */
export function loadDescriptorCatalog(bytes: Uint8Array): DescriptorCatalog {
  const set = decodeSet(bytes);
  const registry = createRegistry(set);
  const files = fileEntries(set, bytes);
  const { services, problems } = collectDomainServices(registry, meshOptionReader(registry));
  if (problems.length > 0) throw new InvalidDescriptorSetError([...new Set(problems)]);
  return catalogOf(services, files, registry);
}

function decodeSet(bytes: Uint8Array): FileDescriptorSet {
  try {
    return fromBinary(FileDescriptorSetSchema, bytes);
  } catch (error: unknown) {
    throw new InvalidDescriptorSetError([`the bytes are not a FileDescriptorSet: ${messageOf(error)}`], { cause: error });
  }
}

function createRegistry(set: FileDescriptorSet): FileRegistry {
  try {
    return createFileRegistry(set);
  } catch (error: unknown) {
    // Typically an import missing from the set: build it with imports (buf build --as-file-descriptor-set).
    throw new InvalidDescriptorSetError([`the files do not resolve: ${messageOf(error)}`], { cause: error });
  }
}

function fileEntries(set: FileDescriptorSet, setBytes: Uint8Array): FileEntry[] {
  const slices = sliceFileDescriptorBytes(setBytes);
  return set.file.map((file, index) => ({
    name: file.name,
    dependencies: [...file.dependency],
    bytes: slices[index] as Buffer,
  }));
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
