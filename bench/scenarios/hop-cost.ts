import { GetTodoList } from "../../gen/todo/v1/queries";
import { h2load, type LoadResult } from "../lib/h2load";
import { startMesh } from "../lib/mesh";
import { cpuMicros, startScript } from "../lib/processes";

export interface HopCostResult {
  connections: number;
  streams: number;
  direct: LoadResult;
  gateway: LoadResult;
  /** The median of the rounds' ratios; the round it came from gives the other figures. */
  throughputRatio: number;
  roundRatios: number[];
  directCpuMicrosPerCall: number;
  gatewayCpuMicrosPerCall: number;
  handlerCpuMicrosPerCall: number;
  halfRate: { rps: number; direct: LoadResult; gateway: LoadResult; p99AddedMs: number };
}

const PATH = "/todo.v1.TodoListQueryService/GetTodoList";

/**
 * The same GetTodoList handler served by a plain grpc-js server and through the gateway over a handler link,
 * at the same concurrency, one after the other in one run; then both at half the direct maximum, for latency.
 */
export async function hopCost(options: { connections: number; streams: number; seconds: number; rounds: number }): Promise<HopCostResult> {
  const message = GetTodoList.encode({ listId: "bench-list" }).finish();
  const direct = await startScript("bench/servers/direct-server.js", ["127.0.0.1:0"]);
  const directAddress = `127.0.0.1:${direct.line.split(" ")[1]}`;
  const mesh = await startMesh("fixed-query");
  try {
    const load = (address: string, rpsPerConnection?: number) =>
      h2load({ address, path: PATH, message, connections: options.connections, streams: options.streams, durationSeconds: options.seconds, rpsPerConnection });
    // Throughput of this shared two-core machine swings run to run: rounds of paired runs, median ratio.
    const rounds: { direct: LoadResult; gateway: LoadResult; ratio: number; directCpu: number; gatewayCpu: number; handlerCpu: number }[] = [];
    const warmUpShare = (options.seconds + 1) / options.seconds; // h2load's 1 s warm-up is load too
    for (let round = 0; round < options.rounds; round++) {
      const directCpu = cpuMicros(direct.child.pid!);
      const directMax = await load(directAddress);
      const directCpuPerCall = (cpuMicros(direct.child.pid!) - directCpu) / (directMax.succeeded * warmUpShare);
      const gatewayCpu = cpuMicros(mesh.gateway.child.pid!);
      const handlerCpu = cpuMicros(mesh.handler.child.pid!);
      const gatewayMax = await load(mesh.address);
      const calls = gatewayMax.succeeded * warmUpShare;
      rounds.push({
        direct: directMax,
        gateway: gatewayMax,
        ratio: gatewayMax.perSecond / directMax.perSecond,
        directCpu: directCpuPerCall,
        gatewayCpu: (cpuMicros(mesh.gateway.child.pid!) - gatewayCpu) / calls,
        handlerCpu: (cpuMicros(mesh.handler.child.pid!) - handlerCpu) / calls,
      });
    }
    const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor(rounds.length / 2)]!;
    const directMax = median.direct;
    const gatewayMax = median.gateway;
    // Latency at half the direct maximum, paced: many connections with one request in flight each, so that
    // the figure is the hop's, not the queue a burst of 25 streams makes.
    const rps = Math.floor(directMax.perSecond / 2);
    const pacedConnections = 50;
    const perConnection = Math.max(1, Math.floor(rps / pacedConnections));
    const paced = (address: string) =>
      h2load({ address, path: PATH, message, connections: pacedConnections, streams: 1, durationSeconds: options.seconds, rpsPerConnection: perConnection });
    const directHalf = await paced(directAddress);
    const gatewayHalf = await paced(mesh.address);
    return {
      connections: options.connections,
      streams: options.streams,
      direct: directMax,
      gateway: gatewayMax,
      throughputRatio: median.ratio,
      roundRatios: rounds.map((r) => Math.round(r.ratio * 100) / 100),
      directCpuMicrosPerCall: median.directCpu,
      gatewayCpuMicrosPerCall: median.gatewayCpu,
      handlerCpuMicrosPerCall: median.handlerCpu,
      halfRate: { rps: perConnection * pacedConnections, direct: directHalf, gateway: gatewayHalf, p99AddedMs: gatewayHalf.p99Ms - directHalf.p99Ms },
    };
  } finally {
    await mesh.stop();
    await direct.stop();
  }
}
