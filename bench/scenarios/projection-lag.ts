import { startMesh } from "../lib/mesh";
import { runClient } from "../lib/run-client";
import type { Latency } from "../lib/stats";

export interface ProjectionLagResult extends Latency {
  rate: number;
  achievedRate: number;
  failures: number;
  missing: number;
}

/** From CommandAck to the view showing the change (seen through WatchTodoList), at a steady command rate. */
export async function projectionLag(options: { rate: number; seconds: number; lists: number }): Promise<ProjectionLagResult> {
  const mesh = await startMesh("todo");
  try {
    return await runClient<ProjectionLagResult>("projection-lag", [mesh.address, options.rate, options.seconds, options.lists]);
  } finally {
    await mesh.stop();
  }
}
