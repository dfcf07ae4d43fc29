import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

/** The extension a descriptor set file has when the gateway finds it in a folder. */
export const DESCRIPTOR_SET_EXTENSION = ".binpb";

/**
 * The bytes of each descriptor set named: a file as it is, a folder as every `*.binpb` file directly in it, in
 * name order (so an image can take the sets mounted on one folder). A folder with none is an error: a gateway
 * that serves nothing is a mistake, not a configuration.
 */
export function readDescriptorSets(paths: readonly string[]): Buffer[] {
  return paths.flatMap((named) => filesOf(named).map((file) => readFileSync(file)));
}

function filesOf(named: string): string[] {
  if (!statSync(named).isDirectory()) return [named];
  const files = readdirSync(named)
    .filter((name) => name.endsWith(DESCRIPTOR_SET_EXTENSION))
    .sort()
    .map((name) => path.join(named, name))
    .filter((file) => statSync(file).isFile());
  if (files.length === 0) throw new Error(`${named} holds no descriptor set (*${DESCRIPTOR_SET_EXTENSION})`);
  return files;
}
