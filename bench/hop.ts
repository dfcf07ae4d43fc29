// `npm run bench:hop [-- rounds seconds]` (rounds 0: the held calls only): the hop scenario alone — GetTodoList from h2load (4 connections × 25
// streams) to a plain grpc-js server and through the gateway to a linked handler — round by round, with each
// process's CPU per call; then the gateway holding 10,000 calls (`BENCH_HELD_CALLS`, 0 to skip) and its RSS.
// BENCH_BASELINE_GATEWAY=<another build's gateway main.js> adds that gateway beside this build's, interleaved
// round by round (the order swapped each round), to compare two builds in the same minutes on a shared machine.
// BENCH_HOP_RPS=<calls/s per connection> holds every target to that rate (h2load --rps): CPU per call at one rate is
// comparable between builds, where at the maximum it moves with the throughput each run happens to get.
// Prints the figures; asserts nothing. CPU per call is what contention disturbs least; throughput swings.
import { GetTodoList } from "@recq-mesh/todo/gen/todo/v1/queries";
import { GATEWAY_MAIN } from "../test/support/built-packages";
import { h2load } from "./lib/h2load";
import { startMesh, type BenchMesh } from "./lib/mesh";
import { cpuMicros, startScript } from "./lib/processes";
import { manyCalls } from "./scenarios/scale";

const PATH = "/todo.v1.TodoListQueryService/GetTodoList";
const CONNECTIONS = 4;
const STREAMS = 25;
const RPS_PER_CONNECTION = process.env.BENCH_HOP_RPS ? Number(process.env.BENCH_HOP_RPS) : undefined;

interface Target {
  name: string;
  address: string;
  /** The processes whose CPU is counted per call: the server, or the gateway and its handler. */
  pids: number[];
}

interface Sample {
  perSecond: number;
  /** CPU µs per call of each of the target's processes. */
  cpu: number[];
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 5);
  const seconds = Number(process.argv[3] ?? 5);
  const heldCalls = Number(process.env.BENCH_HELD_CALLS ?? 10_000);
  const builds = [
    ...(process.env.BENCH_BASELINE_GATEWAY ? [{ name: "baseline", main: process.env.BENCH_BASELINE_GATEWAY }] : []),
    { name: "this build", main: GATEWAY_MAIN },
  ];
  if (rounds > 0) await hopRounds(builds, rounds, seconds);
  if (heldCalls > 0) {
    for (const build of builds) {
      const held = await manyCalls(heldCalls, build.main);
      console.log(
        `${build.name}: ${held.count} calls held (${held.failures} failed): RSS before ${held.gatewayRssBeforeMiB} MiB, holding ${held.gatewayRssHoldingMiB} MiB, ` +
          `peak ${held.gatewayRssPeakMiB} MiB (${held.perCallKiB} KiB/call)`,
      );
    }
  }
}

async function hopRounds(builds: { name: string; main: string }[], rounds: number, seconds: number): Promise<void> {
  const direct = await startScript("bench/servers/direct-server.js", ["127.0.0.1:0"]);
  const meshes: BenchMesh[] = [];
  try {
    for (const build of builds) meshes.push(await startMesh("fixed-query", {}, {}, build.main));
    const targets: Target[] = [
      { name: "direct", address: `127.0.0.1:${direct.line.split(" ")[1]}`, pids: [direct.child.pid!] },
      ...builds.map((build, i) => ({ name: build.name, address: meshes[i]!.address, pids: [meshes[i]!.gateway.child.pid!, meshes[i]!.handler.child.pid!] })),
    ];
    const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? targets : [targets[0]!, ...targets.slice(1).reverse()];
      for (const target of order) samples.get(target.name)!.push(await measure(target, seconds));
      process.stderr.write(`round ${round + 1}: ${order.map((t) => `${t.name} ${describe(samples.get(t.name)!.at(-1)!)}`).join("; ")}\n`);
    }
    report(targets, samples);
  } finally {
    for (const mesh of meshes) await mesh.stop();
    await direct.stop();
  }
}

async function measure(target: Target, seconds: number): Promise<Sample> {
  const before = target.pids.map(cpuMicros);
  const result = await h2load({ address: target.address, path: PATH, message: GetTodoList.encode({ listId: "bench-list" }).finish(), connections: CONNECTIONS, streams: STREAMS, durationSeconds: seconds, rpsPerConnection: RPS_PER_CONNECTION });
  // h2load's 1 s warm-up is load too.
  const calls = result.succeeded * ((seconds + 1) / seconds);
  return { perSecond: result.perSecond, cpu: target.pids.map((pid, i) => (cpuMicros(pid) - before[i]!) / calls) };
}

function describe(sample: Sample): string {
  return `${Math.round(sample.perSecond)}/s, ${sample.cpu.map((c) => c.toFixed(1)).join(" + ")} µs`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function report(targets: Target[], samples: Map<string, Sample[]>): void {
  const direct = samples.get("direct")!;
  for (const target of targets) {
    const own = samples.get(target.name)!;
    const cpu = target.pids.map((_, i) => median(own.map((s) => s.cpu[i]!)).toFixed(1));
    const ratios = own.map((s, round) => s.perSecond / direct[round]!.perSecond);
    const what = target.name === "direct" ? `${cpu[0]} µs CPU/call` : `gateway ${cpu[0]} µs CPU/call (handler ${cpu[1]}); ratio to direct ${median(ratios).toFixed(2)} (rounds ${ratios.map((r) => r.toFixed(2)).join(", ")})`;
    console.log(`${target.name}: median ${Math.round(median(own.map((s) => s.perSecond)))} calls/s, ${what}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
