import type { CommandsResult } from "../scenarios/commands";
import type { HopCostResult, PacedPair } from "../scenarios/hop-cost";
import type { InternalPathResult } from "../scenarios/internal-path";
import type { ProjectionLagResult } from "../scenarios/projection-lag";
import type { ReadYourWritesResult } from "../scenarios/read-your-writes";
import type { ScaleResult } from "../scenarios/scale";

interface Results {
  hopCost: HopCostResult;
  commands: CommandsResult;
  projectionLag: ProjectionLagResult;
  projectionLagLight: ProjectionLagResult;
  readYourWrites: ReadYourWritesResult;
  scale: ScaleResult;
  internalPath: InternalPathResult;
}

const f = (n: number, digits = 1) => n.toFixed(digits);
const signed = (n: number) => `${n >= 0 ? "+" : ""}${f(n, 2)}`;
const paced = (p: PacedPair) =>
  `p50 ${f(p.direct.p50Ms, 2)} → ${f(p.gateway.p50Ms, 2)} ms (${signed(p.p50AddedMs)}); p99 ${f(p.direct.p99Ms, 2)} → ${f(p.gateway.p99Ms, 2)} ms (${signed(p.p99AddedMs)})`;

/** The results as a Markdown table: what was measured, the figure, and the goal it is held against. */
export function formatTable(r: Results): string {
  const h = r.hopCost;
  const rows: [string, string, string][] = [
    [`hop: direct grpc-js GetTodoList (${h.connections}×${h.streams} streams)`, `${f(h.direct.perSecond, 0)} calls/s, p50 ${f(h.direct.p50Ms, 2)} ms, p99 ${f(h.direct.p99Ms, 2)} ms, ${f(h.directCpuMicrosPerCall, 0)} µs CPU/call`, ""],
    ["hop: the same handler through the gateway", `${f(h.gateway.perSecond, 0)} calls/s, p50 ${f(h.gateway.p50Ms, 2)} ms, p99 ${f(h.gateway.p99Ms, 2)} ms`, ""],
    ["hop: throughput ratio gateway / direct (median of rounds)", `${f(h.throughputRatio, 2)} (rounds: ${h.roundRatios.join(", ")})`, "≥ 0.8"],
    ["hop: gateway CPU per routed call (handler's)", `${f(h.gatewayCpuMicrosPerCall, 0)} µs (${f(h.handlerCpuMicrosPerCall, 0)} µs)`, ""],
    [`hop: at ${h.halfRate.rps} calls/s (half of direct max; 8×4 streams), direct → gateway`, paced(h.halfRate), "p99 ≤ +1 ms"],
    [`hop: idle, ${h.idle.rps} calls/s one at a time, direct → gateway`, paced(h.idle), ""],
    ["machine floor: process-to-process loopback round trip", `p50 ${f(h.roundTripFloor.p50Ms, 2)} ms, p99 ${f(h.roundTripFloor.p99Ms, 2)} ms`, ""],
    [`commands end to end, ${r.commands.concurrency} in flight, fsync'd group commit`, `${f(r.commands.commandsPerSecond, 0)} commands/s, p50 ${f(r.commands.p50Ms, 1)} ms, p99 ${f(r.commands.p99Ms, 1)} ms`, "≥ 10,000/s"],
    ["commands: CPU per command, gateway (handler)", `${f(r.commands.gatewayCpuMicrosPerCommand, 0)} µs (${f(r.commands.handlerCpuMicrosPerCommand, 0)} µs)`, ""],
    [`projection lag, ack → view, at ${r.projectionLag.rate}/s (achieved ${f(r.projectionLag.achievedRate, 0)}/s)`, `p50 ${f(r.projectionLag.p50Ms, 1)} ms, p99 ${f(r.projectionLag.p99Ms, 1)} ms`, "p99 ≤ 20 ms"],
    [`projection lag at ${r.projectionLagLight.rate}/s`, `p50 ${f(r.projectionLagLight.p50Ms, 1)} ms, p99 ${f(r.projectionLagLight.p99Ms, 1)} ms`, ""],
    ["read-your-writes: query with the ack's token vs plain", `p50 ${f(r.readYourWrites.withToken.p50Ms, 2)} vs ${f(r.readYourWrites.plain.p50Ms, 2)} ms; p99 ${f(r.readYourWrites.withToken.p99Ms, 2)} vs ${f(r.readYourWrites.plain.p99Ms, 2)} ms; stale ${r.readYourWrites.stale}`, ""],
    [`gateway RSS with ${r.scale.links.count} handler links`, `${f(r.scale.links.gatewayRssWithLinksMiB)} MiB (${f(r.scale.links.perLinkKiB)} KiB/link)`, ""],
    [`gateway RSS with ${r.scale.calls.count} calls in flight`, `holding ${f(r.scale.calls.gatewayRssHoldingMiB)} MiB, peak ${f(r.scale.calls.gatewayRssPeakMiB)} MiB as answers flow back (${f(r.scale.calls.perCallKiB, 2)} KiB/call)`, "≤ 200 MB"],
    [`internal path, ${r.internalPath.concurrency} in flight: kit over its link vs grpc-js unary`, `${f(r.internalPath.link.commandsPerSecond, 0)} vs ${f(r.internalPath.unary.commandsPerSecond, 0)} commands/s (×${f(r.internalPath.throughputRatio, 2)}); p50 ${f(r.internalPath.link.p50Ms, 1)} vs ${f(r.internalPath.unary.p50Ms, 1)} ms`, ""],
  ];
  const lines = ["| scenario | measured | goal |", "|---|---|---|", ...rows.map(([a, b, c]) => `| ${a} | ${b} | ${c} |`)];
  return lines.join("\n");
}
