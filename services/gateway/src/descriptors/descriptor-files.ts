import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

/** The extension a descriptor set file has when the gateway finds it in a folder. */
export const DESCRIPTOR_SET_EXTENSION = ".binpb";

/** One descriptor set as read: where it came from, for messages, and its bytes. */
export interface DescriptorSetFile {
  file: string;
  bytes: Buffer;
}

/**
 * Each descriptor set named: a file as it is, a folder as every `*.binpb` file directly in it, in name order (so
 * an image can take the sets mounted on one folder). A folder with none is an error: a gateway that serves
 * nothing is a mistake, not a configuration.
 */
export function readDescriptorSets(paths: readonly string[]): DescriptorSetFile[] {
  return paths.flatMap((named) => filesOf(named).map((file) => ({ file, bytes: readFileSync(file) })));
}

/** How a catalog's "descriptor set N" reads in terms of files: `1 = a.binpb, 2 = b.binpb`. */
export function describeSetOrder(sets: readonly DescriptorSetFile[]): string {
  return sets.map((set, index) => `${index + 1} = ${set.file}`).join(", ");
}

function filesOf(named: string): string[] {
  const found = statSync(named, { throwIfNoEntry: false });
  if (found === undefined) throw new Error(`descriptor set ${named}: no such file or folder`);
  if (!found.isDirectory()) return [named];
  const files = readdirSync(named)
    .filter((name) => name.endsWith(DESCRIPTOR_SET_EXTENSION))
    .sort()
    .map((name) => path.join(named, name))
    .filter((file) => statSync(file).isFile());
  if (files.length === 0) throw new Error(`${named} holds no descriptor set (*${DESCRIPTOR_SET_EXTENSION})`);
  return files;
}
