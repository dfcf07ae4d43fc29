import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { GATEWAY_MAIN, TODO_DESCRIPTORS } from "../../test/support/built-packages";
import { startScript, type Started } from "./processes";

export interface BenchMesh {
  gateway: Started;
  handler: Started;
  address: string;
  stop(): Promise<void>;
}

/**
 * A gateway process on a fresh embedded store and one bench handler process linked to it. `gatewayMain`: the
 * gateway's script, another build's to compare against (bench/hop.ts).
 */
export async function startMesh(
  handlerMode: "fixed-query" | "hold-query" | "todo",
  gatewayEnv: Record<string, string> = {},
  handlerEnv: Record<string, string> = {},
  gatewayMain = GATEWAY_MAIN,
): Promise<BenchMesh> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "recq-bench-"));
  const gateway = await startScript(
    gatewayMain,
    ["--address", "127.0.0.1:0", "--data-dir", dataDir, "--descriptors", TODO_DESCRIPTORS],
    { RECQ_LOG_LEVEL: "info", ...gatewayEnv },
    /"message":"gateway ready"/,
  );
  const port = Number(/"port":(\d+)/.exec(gateway.line)![1]);
  const address = `127.0.0.1:${port}`;
  const handler = await startScript("bench/servers/bench-handler.js", [address, handlerMode], handlerEnv);
  return {
    gateway,
    handler,
    address,
    stop: async () => {
      await handler.stop();
      await gateway.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
