// `node dist/bench/profile-summary.js <file.cpuprofile> [top]`: a .cpuprofile (BENCH_CPU_PROF) read bottom-up — self
// time summed by area (node_modules packages and the project's packages as one entry each, so it reads "grpc-js 40%,
// gateway 12%") and by function; then the project's functions by inclusive time (what runs under them, whatever
// package it is in). The top entries of each. Prints text; for a bench run's profiles.
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function main(): void {
  const [file, topArg] = process.argv.slice(2);
  if (file === undefined) {
    console.error("usage: profile-summary <file.cpuprofile> [top]");
    process.exit(2);
  }
  const top = Number(topArg ?? 30);
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    const { functionName, url } = byId.get(id)!.callFrame;
    add(byFunction, functionKey(byId.get(id)!), micros);
    add(byArea, area(url, functionName), micros);
    // Each project function on the sample's stack once, however deep it recurses.
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const node = byId.get(at)!;
      if (/\/services\//.test(node.callFrame.url)) onStack.add(functionKey(node));
    }
    for (const key of onStack) add(inclusive, key, micros);
  }
  console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
  print("by area", byArea, total, top);
  print("by function (self)", byFunction, total, top);
  print("the project's functions, inclusive", inclusive, total, top);
}

function functionKey({ callFrame: { functionName, url, lineNumber } }: ProfileNode): string {
  return `${functionName || "(anonymous)"} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ""}`;
}

function add(map: Map<string, number>, key: string, micros: number): void {
  map.set(key, (map.get(key) ?? 0) + micros);
}

/** The package a script belongs to (`@grpc/grpc-js`, `gateway`), a Node internal, or the VM's own entries. */
function area(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (modules) return modules[1]!;
  const service = /services\/([^/]+)\//.exec(url);
  if (service) return service[1]!;
  if (url.startsWith("node:")) return "node:" + url.slice(5).split("/")[0];
  return shortUrl(url);
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\//, "").replace(/^.*node_modules\//, "").replace(/^.*\/services\//, "");
}

function print(title: string, map: Map<string, number>, total: number, top: number): void {
  console.log(`\n${title}:`);
  for (const [key, micros] of [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((micros / total) * 100).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}`);
  }
}

main();
