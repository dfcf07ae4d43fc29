import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

export const DIST = path.resolve(__dirname, "..", "..");

export interface Started {
  child: ChildProcess;
  /** The first line the process printed matching `ready`. */
  line: string;
  stop(): Promise<void>;
}

/**
 * Node flags for every process a scenario starts, to look inside a run: BENCH_CPU_PROF=<dir> profiles each
 * (`--cpu-prof`, one .cpuprofile per process in <dir>, written when it stops); BENCH_NODE_ARGS adds any other
 * flags (say `--trace-gc`). Figures taken with either are not the real ones.
 */
export const profileArgs = [
  ...(process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
  ...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(" ").filter((arg) => arg !== "") : []),
];

/** Starts a compiled script (an absolute path, or one relative to dist/) and waits for it to print `ready`. */
export function startScript(script: string, args: string[], env: Record<string, string> = {}, readyPattern = /ready/): Promise<Started> {
  const child = spawn(process.execPath, [...profileArgs, path.resolve(DIST, script), ...args], {
    env: { ...process.env, RECQ_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split("\n").find((l) => readyPattern.test(l));
      if (line !== undefined) {
        child.stdout!.off("data", onData);
        child.stderr!.off("data", onData);
        resolve({ child, line, stop: () => stop(child) });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${script} exited (${code}) before it was ready:\n${output}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** CPU time (user + system) a process has used, in microseconds, from /proc. */
export function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / 100; // USER_HZ is 100 on Linux
}

/** Resident set size of a process, in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}
