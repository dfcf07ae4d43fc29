import { GetTodoList } from "@recq-mesh/todo/gen/todo/v1/queries";
import { h2load, type LoadResult } from "../lib/h2load";
import { startMesh } from "../lib/mesh";
import { cpuMicros, startScript } from "../lib/processes";
import { roundTripFloor } from "../lib/round-trip-floor";
import type { Latency } from "../lib/stats";

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
  /** Both at half the direct maximum, over 8 connections × 4 streams. */
  halfRate: PacedPair;
  /** Both at a low rate, one call at a time: the hop without queueing. */
  idle: PacedPair;
  /** Process-to-process round trips over loopback on this machine: what a hop cannot go below. */
  roundTripFloor: Latency;
}

export interface PacedPair {
  rps: number;
  direct: LoadResult;
  gateway: LoadResult;
  p50AddedMs: number;
  p99AddedMs: number;
}

const PATH = "/todo.v1.TodoListQueryService/GetTodoList";
const HALF_RATE_CONNECTIONS = 8;
const HALF_RATE_STREAMS = 4;

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
    // Latency at half the direct maximum. h2load's --rps releases a connection's due requests together, so the
    // maximum's shape (25 streams a connection) would arrive in bursts of up to 100 and measure how long a burst
    // takes to drain; 8 connections of 4 streams keep bursts small while still multiplexing (one stream per
    // connection makes every call dearer and saturates this machine before half the maximum).
    const perConnection = Math.max(1, Math.floor(directMax.perSecond / 2 / HALF_RATE_CONNECTIONS));
    const halfRate = await pacedPair(directAddress, mesh.address, perConnection * HALF_RATE_CONNECTIONS, (address) =>
      h2load({ address, path: PATH, message, connections: HALF_RATE_CONNECTIONS, streams: HALF_RATE_STREAMS, durationSeconds: options.seconds, rpsPerConnection: perConnection }),
    );
    const idleRps = 200;
    const idle = await pacedPair(directAddress, mesh.address, idleRps, (address) =>
      h2load({ address, path: PATH, message, connections: 1, streams: 1, durationSeconds: options.seconds, rpsPerConnection: idleRps }),
    );
    const floor = await roundTripFloor({ roundTrips: 1000, pauseMs: 2 });
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
      halfRate,
      idle,
      roundTripFloor: floor,
    };
  } finally {
    await mesh.stop();
    await direct.stop();
  }
}

async function pacedPair(directAddress: string, gatewayAddress: string, rps: number, load: (address: string) => Promise<LoadResult>): Promise<PacedPair> {
  const direct = await load(directAddress);
  const gateway = await load(gatewayAddress);
  return { rps, direct, gateway, p50AddedMs: gateway.p50Ms - direct.p50Ms, p99AddedMs: gateway.p99Ms - direct.p99Ms };
}
