import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Whether a Node process that runs `script` (CommonJS, awaited if it returns a promise) has loaded the MongoDB
 * driver when it is done. A process of its own: the test runner keeps its modules in a registry of its own, where
 * `require.cache` does not see them. A script may fail (a server that is not there): what it loaded still counts.
 */
export async function mongodbDriverLoadedBy(script: string, env: Record<string, string> = {}): Promise<boolean> {
  const marker = `${path.sep}node_modules${path.sep}mongodb${path.sep}`;
  const program = `
    Promise.resolve((async () => { ${script} })()).catch((error) => process.stderr.write(String(error))).then(() => {
      process.stdout.write(String(Object.keys(require.cache).some((file) => file.includes(${JSON.stringify(marker)}))));
    });`;
  const { stdout, stderr } = await run(process.execPath, ["-e", program], { env: { ...process.env, MONGODB_URI: "", ...env }, timeout: 30_000 });
  // Without MONGODB_URI the script must succeed: a failure there would make "not loaded" mean nothing.
  if (!env.MONGODB_URI && stderr !== "") throw new Error(`the script failed: ${stderr}`);
  return stdout === "true";
}
