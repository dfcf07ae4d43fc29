import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorProto, type FileDescriptorSet } from "@bufbuild/protobuf/wkt";
import { sliceFileDescriptorBytes } from "./file-descriptor-bytes";
import { InvalidDescriptorSetError } from "./invalid-descriptor-set-error";

/** One file of the merged sets: decoded, and byte for byte as its set held it (what reflection serves). */
export interface DescribedFile {
  proto: FileDescriptorProto;
  bytes: Buffer;
}

/**
 * The files of several FileDescriptorSets as one list, each file once, dependencies before dependents (the order
 * a registry is built in; a set may import a file another set carries). A file that two sets carry must be the
 * same bytes in both. `fallback` files (the gateway's own services) are added where no set carries that name.
 */
export function mergeDescriptorSets(sets: readonly Uint8Array[], fallback: Uint8Array): DescribedFile[] {
  const byName = new Map<string, DescribedFile>();
  const problems: string[] = [];
  sets.forEach((bytes, index) => {
    for (const file of describedFiles(bytes, sets.length > 1 ? `descriptor set ${index + 1}` : "the descriptor set")) {
      const seen = byName.get(file.proto.name);
      if (seen === undefined) byName.set(file.proto.name, file);
      else if (!seen.bytes.equals(file.bytes)) problems.push(
          `${file.proto.name} differs between the descriptor sets: build them from the same .proto files, with the same buf version and flags (e.g. both with or both without --exclude-source-info)`,
        );
    }
  });
  if (problems.length > 0) throw new InvalidDescriptorSetError([...new Set(problems)]);
  for (const file of describedFiles(fallback, "the gateway's own descriptor set")) {
    if (!byName.has(file.proto.name)) byName.set(file.proto.name, file);
  }
  return dependenciesFirst(byName);
}

function describedFiles(bytes: Uint8Array, what: string): DescribedFile[] {
  const set = decodeSet(bytes, what);
  const slices = sliceFileDescriptorBytes(bytes);
  return set.file.map((proto, index) => ({ proto, bytes: slices[index] as Buffer }));
}

function decodeSet(bytes: Uint8Array, what: string): FileDescriptorSet {
  try {
    return fromBinary(FileDescriptorSetSchema, bytes);
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    throw new InvalidDescriptorSetError([`${what}: the bytes are not a FileDescriptorSet: ${message}`], { cause: error });
  }
}

/** A stable topological order: each file after its imports, otherwise in the order the sets gave. */
function dependenciesFirst(byName: ReadonlyMap<string, DescribedFile>): DescribedFile[] {
  const ordered: DescribedFile[] = [];
  const placed = new Set<string>();
  const place = (file: DescribedFile) => {
    if (placed.has(file.proto.name)) return;
    // Marked before its imports are placed, so an import cycle (which the registry then reports) cannot loop here.
    placed.add(file.proto.name);
    for (const dependency of file.proto.dependency) {
      const imported = byName.get(dependency);
      if (imported !== undefined) place(imported);
    }
    ordered.push(file);
  };
  for (const file of byName.values()) place(file);
  return ordered;
}
