// `npm run bench`: every scenario side by side in one run; prints a table and writes bench/results/latest.json.
// Run by hand on a quiet machine, never in the test command. Load comes from h2load (nghttp2-client) where it
// fits; commands need distinct bodies, so they come from a bare HTTP/2 client in a process of its own.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { commands } from "./scenarios/commands";
import { hopCost } from "./scenarios/hop-cost";
import { internalPath } from "./scenarios/internal-path";
import { projectionLag } from "./scenarios/projection-lag";
import { readYourWrites } from "./scenarios/read-your-writes";
import { scale } from "./scenarios/scale";
import { formatTable } from "./lib/table";

async function main(): Promise<void> {
  requireH2load();
  const started = Date.now();
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "unknown", memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` };
  const step = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    process.stderr.write(`${name}…\n`);
    return run();
  };
  const results = {
    machine,
    hopCost: await step("hop cost", () => hopCost({ connections: 4, streams: 25, seconds: 10, rounds: 3 })),
    commands: await step("commands end to end", () => commands({ concurrency: 200, seconds: 10 })),
    projectionLag: await step("projection lag", () => projectionLag({ rate: 2000, seconds: 10, lists: 100 })),
    // The same path at a tenth of the rate: what it costs when nothing queues.
    projectionLagLight: await step("projection lag, light load", () => projectionLag({ rate: 200, seconds: 5, lists: 100 })),
    readYourWrites: await step("read-your-writes", () => readYourWrites({ rounds: 1000 })),
    scale: await step("scale", () => scale({ links: 1000, calls: 10_000 })),
    internalPath: await step("internal path", () => internalPath({ concurrency: 100, seconds: 8 })),
    seconds: 0,
  };
  results.seconds = Math.round((Date.now() - started) / 1000);
  const dir = path.resolve(__dirname, "..", "..", "bench", "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "latest.json"), `${JSON.stringify(results, null, 2)}\n`);
  console.log(formatTable(results));
  console.log(`\n${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}; ${results.seconds} s. JSON: bench/results/latest.json`);
}

function requireH2load(): void {
  try {
    execFileSync("h2load", ["--version"], { stdio: "ignore" });
  } catch {
    console.error("h2load is missing: apt-get install -y nghttp2-client");
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
