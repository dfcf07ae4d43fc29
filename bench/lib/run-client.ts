import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { DIST, profileArgs } from "./processes";

const run = promisify(execFile);

/** Runs a load client (a compiled script under dist/bench/clients) in its own process; returns its JSON line. */
export async function runClient<T>(name: string, args: (string | number)[]): Promise<T> {
  const { stdout } = await run(process.execPath, [...profileArgs, path.join(DIST, "bench", "clients", `${name}.js`), ...args.map(String)], {
    maxBuffer: 64 * 1024 * 1024,
    timeout: 10 * 60 * 1000,
  });
  // The client's JSON line; flags like --trace-gc (BENCH_NODE_ARGS) may print other lines around it.
  const line = stdout.split("\n").filter((l) => l.startsWith("{")).pop() ?? "";
  return JSON.parse(line) as T;
}
