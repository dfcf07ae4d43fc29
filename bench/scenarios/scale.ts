import { startMesh } from "../lib/mesh";
import { rssMiB, startScript } from "../lib/processes";
import { runClient } from "../lib/run-client";
import { round } from "../lib/stats";

export interface ScaleResult {
  links: { count: number; gatewayRssBeforeMiB: number; gatewayRssWithLinksMiB: number; perLinkKiB: number };
  calls: {
    count: number;
    failures: number;
    gatewayRssBeforeMiB: number;
    /** While all calls are held, before any answer (the handler holds each for HOLD_MS). */
    gatewayRssHoldingMiB: number;
    /** The most seen, which comes as the answers flow back out. */
    gatewayRssPeakMiB: number;
    perCallKiB: number;
  };
}

/** Gateway memory with many handler links, and with many calls in flight at once. */
export async function scale(options: { links: number; calls: number }): Promise<ScaleResult> {
  return { links: await manyLinks(options.links), calls: await manyCalls(options.calls) };
}

async function manyLinks(count: number): Promise<ScaleResult["links"]> {
  const mesh = await startMesh("fixed-query");
  try {
    const pid = mesh.gateway.child.pid!;
    await settle();
    const before = rssMiB(pid);
    const links = await startScript("bench/clients/many-links.js", [mesh.address, String(count)]);
    await settle();
    const after = rssMiB(pid);
    await links.stop();
    return { count, gatewayRssBeforeMiB: round(before, 1), gatewayRssWithLinksMiB: round(after, 1), perLinkKiB: round(((after - before) * 1024) / count, 1) };
  } finally {
    await mesh.stop();
  }
}

/** How long the handler holds each call; all are sent within the first ~2 s. */
const HOLD_MS = 5_000;

/** `gatewayMain`: another build's gateway to compare against (bench/hop.ts); by default this build's. */
export async function manyCalls(count: number, gatewayMain?: string): Promise<ScaleResult["calls"]> {
  // The client spreads its calls over 20 connections, and admission keeps a tenth of the ceiling from callers
  // holding many calls (docs/configuration.md, Admission): the ceiling must leave room for all `count` of them.
  const ceiling = String(Math.ceil(count / 0.9) + 100);
  const mesh = await startMesh("hold-query", { RECQ_MAX_CALLS_IN_FLIGHT: ceiling }, { BENCH_HOLD_MS: String(HOLD_MS) }, gatewayMain);
  try {
    const pid = mesh.gateway.child.pid!;
    await settle();
    const before = rssMiB(pid);
    let peak = before;
    let holding = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 50);
    // Sent by then, none answered yet: what holding the calls costs.
    const holdingSample = setTimeout(() => (holding = rssMiB(pid)), HOLD_MS - 1_000);
    const result = await runClient<{ count: number; failures: number }>("many-calls", [mesh.address, count]);
    clearInterval(sampler);
    clearTimeout(holdingSample);
    return {
      count,
      failures: result.failures,
      gatewayRssBeforeMiB: round(before, 1),
      gatewayRssHoldingMiB: round(holding, 1),
      gatewayRssPeakMiB: round(peak, 1),
      perCallKiB: round(((peak - before) * 1024) / count, 2),
    };
  } finally {
    await mesh.stop();
  }
}

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1_000));
}
