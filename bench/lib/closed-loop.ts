import { latency, nowMs, round, type Latency } from "./stats";

export interface ClosedLoopResult extends Latency {
  concurrency: number;
  seconds: number;
  commandsPerSecond: number;
  failures: number;
}

/**
 * `concurrency` workers each sending the next call as soon as the last one answered, for `seconds` after a
 * 1 s warm-up that is not measured. `send(n)` makes the n-th call.
 */
export async function closedLoop(concurrency: number, seconds: number, send: (n: number) => Promise<unknown>): Promise<ClosedLoopResult> {
  const samples: number[] = [];
  let failures = 0;
  let counter = 0;
  const warmUpEnd = nowMs() + 1_000;
  const end = warmUpEnd + seconds * 1_000;
  const worker = async () => {
    while (nowMs() < end) {
      const started = nowMs();
      try {
        await send(counter++);
        if (started >= warmUpEnd) samples.push(nowMs() - started);
      } catch {
        failures += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  return { concurrency, seconds, commandsPerSecond: round(samples.length / seconds, 1), failures, ...latency(samples) };
}
