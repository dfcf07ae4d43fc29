import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { DIST } from "./processes";

const run = promisify(execFile);

/** Runs a load client (a compiled script under dist/bench/clients) in its own process; returns its JSON line. */
export async function runClient<T>(name: string, args: (string | number)[]): Promise<T> {
  const { stdout } = await run(process.execPath, [path.join(DIST, "bench", "clients", `${name}.js`), ...args.map(String)], {
    maxBuffer: 64 * 1024 * 1024,
    timeout: 10 * 60 * 1000,
  });
  const line = stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as T;
}
