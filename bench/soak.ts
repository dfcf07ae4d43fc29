// `npm run bench:soak`: ten minutes of steady load on the routing path (GetTodoList through the gateway, from
// h2load at a fixed rate), sampling the gateway's memory every 10 s: minute 10 against minute 1 shows a leak.
// The routing path keeps no state per call, so any growth is a leak (commands would grow the embedded store).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { GetTodoList } from "@recq-mesh/todo/gen/todo/v1/queries";
import { h2load } from "./lib/h2load";
import { startMesh } from "./lib/mesh";
import { rssMiB } from "./lib/processes";
import { round } from "./lib/stats";

async function main(): Promise<void> {
  const minutes = Number(process.env.SOAK_MINUTES ?? 10);
  const rate = Number(process.env.SOAK_RATE ?? 2000);
  const mesh = await startMesh("fixed-query");
  const pid = mesh.gateway.child.pid!;
  const samples: { second: number; rssMiB: number; heapNote?: string }[] = [];
  const started = Date.now();
  const sampler = setInterval(() => samples.push({ second: Math.round((Date.now() - started) / 1000), rssMiB: round(rssMiB(pid), 1) }), 10_000);
  try {
    const load = await h2load({
      address: mesh.address,
      path: "/todo.v1.TodoListQueryService/GetTodoList",
      message: GetTodoList.encode({ listId: "soak" }).finish(),
      connections: 4,
      streams: 8,
      durationSeconds: minutes * 60,
      rpsPerConnection: Math.ceil(rate / 4),
    });
    clearInterval(sampler);
    const at = (minute: number) => samples.filter((s) => s.second > (minute - 1) * 60 && s.second <= minute * 60).map((s) => s.rssMiB);
    const mean = (values: number[]) => round(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length), 1);
    // RSS saws up and down with garbage collection: each minute's mean, minimum and maximum tell growth apart.
    const perMinute = Array.from({ length: minutes }, (_, i) => {
      const values = at(i + 1);
      return { minute: i + 1, meanMiB: mean(values), minMiB: Math.min(...values), maxMiB: Math.max(...values) };
    });
    const result = { minutes, rate, calls: load.succeeded, callsPerSecond: round(load.perSecond, 1), p99Ms: load.p99Ms, rssMinute1MiB: mean(at(1)), rssLastMinuteMiB: mean(at(minutes)), perMinute, samples };
    const dir = path.resolve(__dirname, "..", "..", "bench", "results");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "soak.json"), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`${result.calls} calls at ${result.callsPerSecond}/s over ${minutes} min; gateway RSS minute 1: ${result.rssMinute1MiB} MiB, minute ${minutes}: ${result.rssLastMinuteMiB} MiB`);
    for (const m of perMinute) console.log(`  minute ${m.minute}: mean ${m.meanMiB} MiB (min ${m.minMiB}, max ${m.maxMiB})`);
  } finally {
    clearInterval(sampler);
    await mesh.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
