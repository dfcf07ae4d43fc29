import path from "node:path";

/** A built file of a workspace package, found through the package's name as any dependant finds it. */
function builtFile(packageName: string, file: string): string {
  return path.join(path.dirname(require.resolve(`${packageName}/package.json`)), "dist", file);
}

/** The `recq-gateway` command's script. */
export const GATEWAY_MAIN = builtFile("@recq-mesh/gateway", "main.js");
/** The TodoList service's script. */
export const TODO_MAIN = builtFile("@recq-mesh/todo", "main.js");
/** The TodoList contracts with their imports (`npm run build` makes it): what the gateway serves in the tests. */
export const TODO_DESCRIPTORS = builtFile("@recq-mesh/todo", "descriptors.binpb");
