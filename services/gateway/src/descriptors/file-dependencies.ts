import type { FileEntry } from "./catalog-entries";

/**
 * The named file and everything it imports, transitively, each once: dependencies before dependents and the
 * named file last, so a client can build them into a descriptor pool in the order given.
 * Undefined when the file is not in the set.
 */
export function filesWithDependencies(name: string, filesByName: ReadonlyMap<string, FileEntry>): FileEntry[] | undefined {
  if (!filesByName.has(name)) return undefined;
  const ordered: FileEntry[] = [];
  const visited = new Set<string>();
  const visit = (fileName: string): void => {
    const file = filesByName.get(fileName);
    if (file === undefined || visited.has(fileName)) return;
    visited.add(fileName);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file);
  };
  visit(name);
  return ordered;
}
