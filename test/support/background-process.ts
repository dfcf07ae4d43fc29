import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";

/** A process a test started and waits on: its output so far, and how it ended. */
export interface BackgroundProcess {
  child: ChildProcess;
  /** The first match of the ready pattern in its output. */
  ready: RegExpExecArray;
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM to its group, then SIGKILL if any of it still runs after `graceMs`; resolves once the whole group is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `command` in a process group of its own and resolves once its stdout or stderr matches `ready`; rejects if it exits first or does not
 * get ready within `timeoutMs` (then it is killed).
 */
export function startProcess(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { ready: RegExp; timeoutMs?: number },
): Promise<BackgroundProcess> {
  const { ready: pattern, timeoutMs = 60_000, ...spawnOptions } = options;
  // Its own process group, so that stopping it reaches what it started too (npm start runs node under a shell).
  const child = spawn(command, args, { ...spawnOptions, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let output = "";
  const stop = async (graceMs = 10_000) => {
    signalGroup(child, "SIGTERM");
    const kill = setTimeout(() => signalGroup(child, "SIGKILL"), graceMs);
    await exited;
    // npm and npx die of the signal at once; what they started may still be finishing its work.
    while (groupAlive(child)) await new Promise((resolve) => setTimeout(resolve, 50));
    clearTimeout(kill);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop(0);
      reject(new Error(`${command} ${args.join(" ")} was not ready after ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = pattern.exec(output);
      if (match === null) return;
      clearTimeout(timer);
      resolve({ child, ready: match, output: () => output, exited, stop });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(" ")} exited (${code}) before it was ready:\n${output}`));
    });
  });
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

function groupAlive(child: ChildProcess): boolean {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 0);
    return child.pid !== undefined;
  } catch {
    return false;
  }
}
