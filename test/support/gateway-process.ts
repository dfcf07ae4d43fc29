import { spawn, type ChildProcess } from "node:child_process";
import { GATEWAY_MAIN, TODO_DESCRIPTORS } from "./built-packages";

export interface GatewayProcess {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
  /** What it has logged so far (JSON lines on stderr). */
  log(): string;
}

/**
 * The gateway as users run it: its own process, from the built entry point, serving the TodoList contracts on
 * 127.0.0.1; resolves once it logs "gateway ready". Its store is the embedded one in `dataDir` — never the
 * environment's MongoDB — unless `env` sets MONGODB_URI.
 */
export function spawnGateway(dataDir: string, port: number, env: Record<string, string | undefined> = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [GATEWAY_MAIN, "--address", `127.0.0.1:${port}`, "--data-dir", dataDir, "--descriptors", TODO_DESCRIPTORS], {
    env: { ...process.env, MONGODB_URI: "", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let log = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      const ready = /"message":"gateway ready".*"port":(\d+)/.exec(log);
      if (ready) resolve({ child, port: Number(ready[1]), exited, log: () => log });
    });
    void exited.then((code) => reject(new Error(`gateway exited (${code}) before it was ready:\n${log}`)));
  });
}
