import { startMesh } from "../lib/mesh";
import { runClient } from "../lib/run-client";
import type { Latency } from "../lib/stats";

interface PathResult extends Latency {
  commandsPerSecond: number;
  failures: number;
}

export interface InternalPathResult {
  concurrency: number;
  link: PathResult;
  unary: PathResult;
  throughputRatio: number;
}

/** A TypeScript service's commands through the kit over its link, against the same commands as unary calls. */
export async function internalPath(options: { concurrency: number; seconds: number }): Promise<InternalPathResult> {
  const mesh = await startMesh("todo");
  try {
    const link = await runClient<PathResult>("internal-calls", [mesh.address, "link", options.concurrency, options.seconds]);
    const unary = await runClient<PathResult>("internal-calls", [mesh.address, "unary", options.concurrency, options.seconds]);
    return { concurrency: options.concurrency, link, unary, throughputRatio: Math.round((link.commandsPerSecond / unary.commandsPerSecond) * 100) / 100 };
  } finally {
    await mesh.stop();
  }
}
