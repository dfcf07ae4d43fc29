// `npm run bench:overload`: the mesh (gateway + TodoList handler, embedded store) at three times the rate it
// sustains, from ghz, with a modest caller beside the flood. Prints a table and writes bench/results/overload.json.
// Run by hand on a quiet machine. BENCH_OVERLOAD_SECONDS shortens the overload (default 60); BENCH_OVERLOAD_FACTOR
// changes its multiple of the sustainable rate (default 3).
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CreateTodoList } from "@recq-mesh/todo/gen/todo/v1/commands";
import { ghz, requireGhz, type GhzResult } from "./lib/ghz";
import { H2GrpcClient } from "./lib/h2-grpc-client";
import { startMesh } from "./lib/mesh";
import { rssMiB } from "./lib/processes";
import { runClient } from "./lib/run-client";
import type { Latency } from "./lib/stats";

const LISTS = 2000;
const ADD = "todo.v1.TodoListCommandService/AddTodoItem";
const ADD_DATA = `{"listId":"l{{mod .RequestNumber ${LISTS}}}","itemId":"{{.UUID}}","text":"benchmark item"}`;

interface ModestCaller extends Latency {
  failures: Record<string, number>;
}

async function main(): Promise<void> {
  requireGhz();
  const overloadSeconds = Number(process.env.BENCH_OVERLOAD_SECONDS ?? 60);
  const mesh = await startMesh("todo", gatewayEnv());
  // BENCH_GATEWAY_LOG=<file> (with RECQ_LOG_LEVEL=debug in BENCH_GATEWAY_ENV): the admission limit's every move.
  if (process.env.BENCH_GATEWAY_LOG) mesh.gateway.child.stderr!.pipe(createWriteStream(process.env.BENCH_GATEWAY_LOG));
  try {
    await createLists(mesh.address);
    const load = (seconds: number, rate?: number, concurrency = 2000) =>
      ghz({ address: mesh.address, call: ADD, data: ADD_DATA, seconds, rate, concurrency, connections: 8 });
    step("the most it does (closed loop, 64 calls in flight)");
    const startRssMiB = Math.round(rssMiB(mesh.gateway.child.pid!));
    const closedLoop = await load(10, undefined, 64);
    const afterMaximumRssMiB = Math.round(rssMiB(mesh.gateway.child.pid!));
    // Sustainable: a rate it holds with a steady p99 and nothing refused, a fraction of what the closed loop got
    // out of it with every core busy (the reference run shows whether it holds).
    const sustainable = Math.round(closedLoop.goodputPerSecond * Number(process.env.BENCH_SUSTAINABLE_FRACTION ?? 0.6));
    step(`reference: the sustainable rate, ${sustainable}/s`);
    const reference = await load(10, sustainable);
    const factor = Number(process.env.BENCH_OVERLOAD_FACTOR ?? 3);
    step(`overload: ${Math.round(sustainable * factor)}/s for ${overloadSeconds} s, a modest caller beside it`);
    const rss = sampleRss(mesh.gateway.child.pid!);
    const [overload, modest] = await Promise.all([load(overloadSeconds, Math.round(sustainable * factor)), runClient<ModestCaller>("modest-caller", [mesh.address, overloadSeconds])]);
    const peakRssMiB = rss.stop();
    const afterOverloadRssMiB = Math.round(rssMiB(mesh.gateway.child.pid!));
    step("recovery: back to the sustainable rate");
    const recovery = await load(10, sustainable);
    const rssMiBs = { start: startRssMiB, afterMaximum: afterMaximumRssMiB, overloadPeak: peakRssMiB, afterOverload: afterOverloadRssMiB };
    const results = { maximum: closedLoop.goodputPerSecond, sustainable, factor, closedLoop, reference, overload, modest, rssMiBs, recovery };
    const dir = path.resolve(__dirname, "..", "..", "bench", "results");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "overload.json"), `${JSON.stringify(results, null, 2)}\n`);
    console.log(table(results));
  } finally {
    await mesh.stop();
  }
}

/** BENCH_GATEWAY_ENV="RECQ_MIN_CALLS_IN_FLIGHT=256 RECQ_…=…": settings for the gateway, to compare. */
function gatewayEnv(): Record<string, string> {
  const pairs = (process.env.BENCH_GATEWAY_ENV ?? "").split(/\s+/).filter((pair) => pair.includes("="));
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]));
}

function step(name: string): void {
  process.stderr.write(`${name}…\n`);
}

async function createLists(address: string): Promise<void> {
  const client = new H2GrpcClient(address, 2);
  for (let i = 0; i < LISTS; i += 200) {
    const batch = Array.from({ length: Math.min(200, LISTS - i) }, (_, j) => `l${i + j}`);
    await Promise.all(batch.map((listId) => client.call(`/todo.v1.TodoListCommandService/CreateTodoList`, CreateTodoList.encode({ listId, name: listId }).finish())));
  }
  client.close();
}

/** The gateway's resident memory, sampled every 250 ms until `stop`, which answers the peak. */
function sampleRss(pid: number): { stop(): number } {
  let peak = rssMiB(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 250);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.round(Math.max(peak, rssMiB(pid)));
    },
  };
}

interface Results {
  maximum: number;
  sustainable: number;
  factor: number;
  reference: GhzResult;
  overload: GhzResult;
  modest: ModestCaller;
  rssMiBs: { start: number; afterMaximum: number; overloadPeak: number; afterOverload: number };
  recovery: GhzResult;
}

function table(r: Results): string {
  const row = (name: string, g: GhzResult) =>
    `${name.padEnd(10)} ${String(g.offeredPerSecond).padStart(8)} ${String(g.goodputPerSecond).padStart(8)} ${String(g.refusedPerSecond).padStart(8)}` +
    ` ${`${g.accepted.p50Ms} / ${g.accepted.p99Ms}`.padStart(18)} ${`${g.refused.p50Ms} / ${g.refused.p99Ms}`.padStart(18)}  ${JSON.stringify(g.otherFailures)}`;
  const errors = Object.entries(r.overload.errors).sort((a, b) => b[1] - a[1]).slice(0, 4);
  return [
    `maximum (closed loop, 64 in flight): ${r.maximum} commands/s; sustainable (reference): ${r.sustainable}/s; overload: ${r.factor}× that`,
    `phase       offered  goodput  refused  accepted p50/p99 ms  refused p50/p99 ms  other`,
    row("reference", r.reference),
    row("overload", r.overload),
    row("recovery", r.recovery),
    `gateway RSS: ${r.rssMiBs.start} MiB at start, ${r.rssMiBs.afterMaximum} after the closed loop, peak ${r.rssMiBs.overloadPeak} in the overload, ${r.rssMiBs.afterOverload} after it`,
    `modest caller (1 call at a time, 5 s deadline): ${r.modest.count} answered, p50 ${r.modest.p50Ms} / p99 ${r.modest.p99Ms} ms, failures ${JSON.stringify(r.modest.failures)}`,
    `recovery goodput by second: ${r.recovery.goodputBySecond.join(" ")}`,
    `overload's most frequent failures:`,
    ...errors.map(([text, count]) => `  ${count} × ${text.slice(0, 160)}`),
  ].join("\n");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
