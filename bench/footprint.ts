// `npm run bench:footprint [-- rounds]`: what the `recq-gateway` process costs before it serves anything — its
// resident set at rest and its start time (spawn to the "gateway ready" line) — with the default settings, with
// each feature on alone (a security file with JWT callers, the HTTP port, tracing over OTLP, MongoDB when
// MONGODB_URI is set) and with all of them; a plain grpc-js server (bench/servers/direct-server.ts) as the
// reference. Each mode is started `rounds` times (default 5), rounds interleaved, medians printed; then once more
// with a preload that lists the npm packages it loaded by its ready line. The store is the embedded one in a fresh
// folder (empty); nothing connects to the gateway. Prints the figures; asserts nothing. Run by hand on a quiet
// machine: start times move with whatever else the two cores run.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { GATEWAY_MAIN, TODO_DESCRIPTORS } from "../test/support/built-packages";
import { listLoadedPackagesOptions, loadedPackagesIn } from "../test/support/loaded-packages";
import { rssMiB, startScript } from "./lib/processes";

/** How long a started process is left alone before its RSS is read: timers and lazy work of its start settle. */
const REST_MS = 2_000;
/** Packages named in the table when a mode loads them: those a feature brings. */
const FEATURE_PACKAGES = ["jose", "@connectrpc/connect", "@connectrpc/connect-node", "mongodb", "@opentelemetry/sdk-trace-node", "@opentelemetry/exporter-trace-otlp-grpc", "@opentelemetry/instrumentation-mongodb"];

interface Mode {
  name: string;
  /** A script relative to dist/, or the gateway's; its args; its environment. */
  script: string;
  args: (dataDir: string) => string[];
  env: Record<string, string>;
  ready: RegExp;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

interface Sample {
  startMs: number;
  rssMiB: number;
}

function modes(dir: string): Mode[] {
  writeFileSync(path.join(dir, "jwt.secret"), "a bench secret of at least thirty-two bytes for HS256");
  const policy = { callers: { jwt: { secretFile: "jwt.secret", issuer: "bench", audience: "recq-gateway" }, permissions: { "*": ["todo"] } } };
  writeFileSync(path.join(dir, "security.json"), JSON.stringify(policy));
  const features: [string, Record<string, string>][] = [
    ["security file (JWT callers)", { RECQ_SECURITY_FILE: path.join(dir, "security.json") }],
    ["HTTP port", { RECQ_HTTP_ADDRESS: "127.0.0.1:0" }],
    // Nothing listens there: at rest the exporter has nothing to send.
    ["tracing (OTLP endpoint)", { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4317" }],
  ];
  if (process.env.MONGODB_URI) features.push(["MongoDB (MONGODB_URI)", { MONGODB_URI: process.env.MONGODB_URI }]);
  const gateway = (name: string, env: Record<string, string>): Mode => ({
    name,
    script: GATEWAY_MAIN,
    args: (dataDir) => ["--address", "127.0.0.1:0", "--data-dir", dataDir, "--descriptors", TODO_DESCRIPTORS],
    env: { MONGODB_URI: "", OTEL_EXPORTER_OTLP_ENDPOINT: "", RECQ_LOG_LEVEL: "info", ...env },
    ready: /"message":"gateway ready"/,
  });
  return [
    { name: "plain grpc-js server (reference)", script: "bench/servers/direct-server.js", args: () => ["127.0.0.1:0"], env: {}, ready: /^ready/ },
    gateway("gateway, defaults (every feature off)", {}),
    ...features.map(([name, env]) => gateway(`gateway + ${name}`, env)),
    gateway("gateway + all of the above", Object.assign({}, ...features.map(([, env]) => env)) as Record<string, string>),
  ];
}

/** Starts `mode` once: its start time, then its RSS after REST_MS. */
async function sample(mode: Mode, dir: string): Promise<Sample> {
  const dataDir = mkdtempSync(path.join(dir, "data-"));
  const started = performance.now();
  const running = await startScript(mode.script, mode.args(dataDir), mode.env, mode.ready);
  const startMs = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, REST_MS));
  const rss = rssMiB(running.child.pid!);
  await running.stop();
  rmSync(dataDir, { recursive: true, force: true });
  return { startMs, rssMiB: rss };
}

/** The npm packages `mode` has loaded by its ready line (the gateway's modes only). */
async function loadedPackages(mode: Mode, dir: string): Promise<string[] | undefined> {
  if (mode.script !== GATEWAY_MAIN) return undefined;
  const dataDir = mkdtempSync(path.join(dir, "data-"));
  // The preload writes its list just before the ready line: that is the line waited for.
  const started = await startScript(mode.script, mode.args(dataDir), { ...mode.env, NODE_OPTIONS: listLoadedPackagesOptions(dir) }, /"loadedPackages"/);
  await started.stop();
  rmSync(dataDir, { recursive: true, force: true });
  return loadedPackagesIn(started.line);
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 5);
  const dir = mkdtempSync(path.join(os.tmpdir(), "recq-footprint-"));
  try {
    const all = modes(dir);
    const samples = new Map<Mode, Sample[]>(all.map((mode) => [mode, []]));
    for (let round = 0; round < rounds; round++) {
      for (const mode of all) samples.get(mode)!.push(await sample(mode, dir));
    }
    const rows: string[] = [];
    for (const mode of all) {
      const taken = samples.get(mode)!;
      const packages = await loadedPackages(mode, dir);
      const named = packages === undefined ? "" : `${packages.length}: ${packages.filter((name) => FEATURE_PACKAGES.includes(name)).join(", ") || "none of the features'"}`;
      const startMs = median(taken.map((s) => s.startMs));
      const rss = median(taken.map((s) => s.rssMiB));
      const spread = `${Math.min(...taken.map((s) => s.rssMiB)).toFixed(1)}–${Math.max(...taken.map((s) => s.rssMiB)).toFixed(1)}`;
      rows.push(`| ${mode.name} | ${rss.toFixed(1)} (${spread}) | ${startMs.toFixed(0)} (${Math.min(...taken.map((s) => s.startMs)).toFixed(0)}–${Math.max(...taken.map((s) => s.startMs)).toFixed(0)}) | ${named} |`);
    }
    process.stdout.write(`Footprint at rest, ${rounds} rounds (median, min–max); node ${process.version}; start = spawn to ready line; RSS ${REST_MS} ms after it.\n\n`);
    process.stdout.write(["| mode | RSS MiB | start ms | npm packages loaded by ready (features' named) |", "|---|---|---|---|", ...rows].join("\n") + "\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
