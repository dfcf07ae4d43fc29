// `npm run bench:commands [-- rounds seconds concurrency]`: only the commands end-to-end scenario of `npm run bench`
// (gateway, TodoList handler and projection, embedded store with fsync'd group commit), round after round, with
// the CPU per command of the gateway and of the handler process. Noisy on a shared machine: compare rounds
// taken in the same minute (`BENCH_CPU_PROF=<dir>` profiles every process, as for `npm run bench`).
import { commands } from "./scenarios/commands";

async function main(): Promise<void> {
  const [roundsArg, secondsArg, concurrencyArg] = process.argv.slice(2);
  const rounds = Number(roundsArg ?? 3);
  const seconds = Number(secondsArg ?? 10);
  const concurrency = Number(concurrencyArg ?? 200);
  for (let round = 1; round <= rounds; round += 1) {
    const result = await commands({ concurrency, seconds });
    console.log(
      `round ${round}: ${result.commandsPerSecond} commands/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, failures ${result.failures}; ` +
        `CPU per command: gateway ${result.gatewayCpuMicrosPerCommand.toFixed(1)} µs, handler ${result.handlerCpuMicrosPerCommand.toFixed(1)} µs`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
