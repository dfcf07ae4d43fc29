import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface LoadResult {
  requests: number;
  succeeded: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface LoadOptions {
  /** host:port */
  address: string;
  /** `/package.Service/Method` */
  path: string;
  /** The protobuf request message. */
  message: Uint8Array;
  connections: number;
  /** Concurrent streams per connection. */
  streams: number;
  durationSeconds: number;
  warmUpSeconds?: number;
  /** Requests per second per connection (h2load --rps); omitted: as fast as possible. */
  rpsPerConnection?: number;
  headers?: Record<string, string>;
}

/**
 * Load from h2load (nghttp2-client): gRPC over h2c with a prepared body, so the load generator is not the
 * project's own code. Latency percentiles come from its per-request log.
 */
export async function h2load(options: LoadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "recq-h2load-"));
  const body = path.join(dir, "body.bin");
  const log = path.join(dir, "requests.log");
  writeFileSync(body, grpcFrame(options.message));
  const args = [
    "-c", String(options.connections),
    "-m", String(options.streams),
    "-D", String(options.durationSeconds),
    "--warm-up-time", String(options.warmUpSeconds ?? 1),
    "-H", "content-type: application/grpc",
    "-H", "te: trailers",
    "-d", body,
    "--log-file", log,
  ];
  for (const [key, value] of Object.entries(options.headers ?? {})) args.push("-H", `${key}: ${value}`);
  if (options.rpsPerConnection !== undefined) args.push("--rps", String(options.rpsPerConnection));
  args.push(`http://${options.address}${options.path}`);
  const { stdout } = await run("h2load", args, { maxBuffer: 16 * 1024 * 1024 });
  return parse(stdout, readFileSync(log, "utf8"), options.durationSeconds);
}

function parse(stdout: string, log: string, durationSeconds: number): LoadResult {
  const done = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded/.exec(stdout);
  if (done === null) throw new Error(`cannot read h2load's output:\n${stdout}`);
  const latencies = log
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => Number(line.split("\t")[2]) / 1000)
    .sort((a, b) => a - b);
  const succeeded = Number(done[3]);
  return {
    requests: Number(done[2]),
    succeeded,
    seconds: durationSeconds,
    perSecond: succeeded / durationSeconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** A gRPC length-prefixed message: 1 byte uncompressed flag, 4 bytes big-endian length, the message. */
function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  return frame;
}
