import { GetTodoList } from "../../gen/todo/v1/queries";
import { h2load, type LoadResult } from "../lib/h2load";
import { startMesh } from "../lib/mesh";
import { cpuMicros, startScript } from "../lib/processes";

export interface HopCostResult {
  connections: number;
  streams: number;
  direct: LoadResult;
  gateway: LoadResult;
  throughputRatio: number;
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
export async function hopCost(options: { connections: number; streams: number; seconds: number }): Promise<HopCostResult> {
  const message = GetTodoList.encode({ listId: "bench-list" }).finish();
  const direct = await startScript("bench/servers/direct-server.js", ["127.0.0.1:0"]);
  const directAddress = `127.0.0.1:${direct.line.split(" ")[1]}`;
  const mesh = await startMesh("fixed-query");
  try {
    const load = (address: string, rpsPerConnection?: number) =>
      h2load({ address, path: PATH, message, connections: options.connections, streams: options.streams, durationSeconds: options.seconds, rpsPerConnection });
    const directCpu = cpuMicros(direct.child.pid!);
    const directMax = await load(directAddress);
    const warmUpShare = (options.seconds + 1) / options.seconds; // h2load's 1 s warm-up is load too
    const directCpuPerCall = (cpuMicros(direct.child.pid!) - directCpu) / (directMax.succeeded * warmUpShare);
    const gatewayCpu = cpuMicros(mesh.gateway.child.pid!);
    const handlerCpu = cpuMicros(mesh.handler.child.pid!);
    const gatewayMax = await load(mesh.address);
    const calls = gatewayMax.succeeded * warmUpShare;
    const gatewayCpuPerCall = (cpuMicros(mesh.gateway.child.pid!) - gatewayCpu) / calls;
    const handlerCpuPerCall = (cpuMicros(mesh.handler.child.pid!) - handlerCpu) / calls;
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
      throughputRatio: gatewayMax.perSecond / directMax.perSecond,
      directCpuMicrosPerCall: directCpuPerCall,
      gatewayCpuMicrosPerCall: gatewayCpuPerCall,
      handlerCpuMicrosPerCall: handlerCpuPerCall,
      halfRate: { rps: perConnection * pacedConnections, direct: directHalf, gateway: gatewayHalf, p99AddedMs: gatewayHalf.p99Ms - directHalf.p99Ms },
    };
  } finally {
    await mesh.stop();
    await direct.stop();
  }
}
