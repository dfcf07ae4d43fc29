import { startMesh } from "../lib/mesh";
import { runClient } from "../lib/run-client";
import type { Latency } from "../lib/stats";

export interface ReadYourWritesResult {
  rounds: number;
  stale: number;
  withToken: Latency;
  plain: Latency;
  addedP50Ms: number;
}

/** A query with the consistency token of the command just acknowledged, against the same query without it. */
export async function readYourWrites(options: { rounds: number }): Promise<ReadYourWritesResult> {
  const mesh = await startMesh("todo");
  try {
    const result = await runClient<Omit<ReadYourWritesResult, "addedP50Ms">>("read-your-writes", [mesh.address, options.rounds]);
    return { ...result, addedP50Ms: Math.round((result.withToken.p50Ms - result.plain.p50Ms) * 1000) / 1000 };
  } finally {
    await mesh.stop();
  }
}
