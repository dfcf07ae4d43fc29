import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { latency, round, type Latency } from "./stats";

const run = promisify(execFile);

/** What one ghz run did, split by outcome: OK calls and refused ones (RESOURCE_EXHAUSTED) apart. */
export interface GhzResult {
  seconds: number;
  offeredPerSecond: number;
  goodputPerSecond: number;
  refusedPerSecond: number;
  /** Every other status, by name. */
  otherFailures: Record<string, number>;
  accepted: Latency;
  refused: Latency;
  /** Failure messages (their first 200 characters), by count. */
  errors: Record<string, number>;
  /** OK calls in each second of the run, from its start: how fast a rate comes back. */
  goodputBySecond: number[];
}

export interface GhzOptions {
  address: string;
  /** `package.Service/Method` */
  call: string;
  /** ghz's JSON data template (it has `.RequestNumber`, `.UUID`, sprig's `mod`…). */
  data: string;
  seconds: number;
  /** Requests per second in all; omitted: as fast as `concurrency` workers go. */
  rate?: number;
  concurrency: number;
  connections: number;
}

interface GhzReport {
  details: { timestamp: string; latency: number; status: string }[];
  errorDistribution?: Record<string, number>;
}

/** The install line a missing ghz is reported with. */
export const GHZ_INSTALL = "go install github.com/bojand/ghz/cmd/ghz@v0.121.0";

export function requireGhz(): void {
  try {
    execFileSync("ghz", ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error(`ghz is missing: ${GHZ_INSTALL} (and put $(go env GOPATH)/bin on PATH)`);
  }
}

/**
 * Load from ghz, a gRPC load tool written in Go: reflection for the contracts, an open-loop rate (`--rps`),
 * and each request's status and latency in its JSON report, so that refused calls are told apart from answered ones.
 */
export async function ghz(options: GhzOptions): Promise<GhzResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "recq-ghz-"));
  const report = path.join(dir, "report.json");
  const args = ["--insecure", "--call", options.call, "-d", options.data, "-z", `${options.seconds}s`, "-c", String(options.concurrency)];
  args.push("--connections", String(options.connections), "-O", "json", "-o", report);
  if (options.rate !== undefined) args.push("--rps", String(options.rate));
  try {
    await run("ghz", [...args, options.address], { maxBuffer: 16 * 1024 * 1024, timeout: (options.seconds + 120) * 1000 });
    return summarise(JSON.parse(readFileSync(report, "utf8")) as GhzReport, options.seconds);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function summarise(report: GhzReport, seconds: number): GhzResult {
  const accepted: number[] = [];
  const refused: number[] = [];
  const otherFailures: Record<string, number> = {};
  let start = Infinity;
  for (const detail of report.details) start = Math.min(start, Date.parse(detail.timestamp));
  const goodputBySecond = Array.from({ length: Math.ceil(seconds) }, () => 0);
  for (const detail of report.details) {
    const ms = detail.latency / 1e6;
    if (detail.status === "OK") {
      accepted.push(ms);
      const second = Math.floor((Date.parse(detail.timestamp) + ms - start) / 1000);
      if (second < goodputBySecond.length) goodputBySecond[second]! += 1;
    } else if (detail.status === "ResourceExhausted") refused.push(ms);
    else otherFailures[detail.status] = (otherFailures[detail.status] ?? 0) + 1;
  }
  return {
    seconds,
    offeredPerSecond: round(report.details.length / seconds, 0),
    goodputPerSecond: round(accepted.length / seconds, 0),
    refusedPerSecond: round(refused.length / seconds, 0),
    otherFailures,
    accepted: latency(accepted),
    refused: latency(refused),
    goodputBySecond,
    errors: report.errorDistribution ?? {},
  };
}
