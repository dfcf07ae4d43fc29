import { startMesh } from "../lib/mesh";
import { cpuMicros } from "../lib/processes";
import { runClient } from "../lib/run-client";
import type { Latency } from "../lib/stats";

export interface CommandsResult extends Latency {
  concurrency: number;
  commandsPerSecond: number;
  failures: number;
  gatewayCpuMicrosPerCommand: number;
  handlerCpuMicrosPerCommand: number;
}

/**
 * Commands end to end on the embedded store with fsync'd group commit: history load, dispatch, decide,
 * append, ack — at a fixed concurrency, from a client process of its own.
 */
export async function commands(options: { concurrency: number; seconds: number }): Promise<CommandsResult> {
  const mesh = await startMesh("todo");
  try {
    const gatewayCpu = cpuMicros(mesh.gateway.child.pid!);
    const handlerCpu = cpuMicros(mesh.handler.child.pid!);
    const result = await runClient<Omit<CommandsResult, "gatewayCpuMicrosPerCommand" | "handlerCpuMicrosPerCommand">>("command-load", [
      mesh.address,
      options.concurrency,
      options.seconds,
      2000,
    ]);
    // The CPU figures include setting up 2,000 lists and the warm-up second: an upper bound per command.
    const total = result.commandsPerSecond * (options.seconds + 1) + 2000;
    return {
      ...result,
      gatewayCpuMicrosPerCommand: (cpuMicros(mesh.gateway.child.pid!) - gatewayCpu) / total,
      handlerCpuMicrosPerCommand: (cpuMicros(mesh.handler.child.pid!) - handlerCpu) / total,
    };
  } finally {
    await mesh.stop();
  }
}
