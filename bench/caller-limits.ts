// `npm run bench:caller-limits [-- stalled-streams watch-seconds]`: what callers who send too
// much, or too little, cost a gateway process (issue 10, items 2 and 3). Prints the figures; asserts nothing.
// 1. Eight callers at once each send a 60 MiB GetTodoList request: the statuses they get and the gateway's peak RSS
//    (VmHWM) before and after.
// 2. `stalled-streams` requests (default 2,000, over 20 connections) that each declare 1,000 bytes and send 9: how
//    many are still open after 5 s, 15 s and `watch-seconds` (default 65), and the gateway's RSS meanwhile.
// No handler is linked: none of these requests may reach one.
import http2 from "node:http2";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { GATEWAY_MAIN, TODO_DESCRIPTORS } from "../test/support/built-packages";
import { rssMiB, startScript, type Started } from "./lib/processes";

const GET_TODO_LIST = "/todo.v1.TodoListQueryService/GetTodoList";
const MiB = 1024 * 1024;

/** Peak resident set size of a process so far, in MiB (VmHWM). */
function peakRssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmHWM:"));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

function request(session: http2.ClientHttp2Session): http2.ClientHttp2Stream {
  const stream = session.request({ ":method": "POST", ":path": GET_TODO_LIST, "content-type": "application/grpc", te: "trailers" });
  stream.on("data", () => undefined);
  stream.on("error", () => undefined);
  return stream;
}

function prefix(declared: number): Buffer {
  const bytes = Buffer.alloc(5);
  bytes.writeUInt32BE(declared, 1);
  return bytes;
}

/** Resolves with "grpc-status N (reason)", or how the stream ended without one. */
function outcome(stream: http2.ClientHttp2Stream): Promise<string> {
  return new Promise((resolve) => {
    let status: string | undefined;
    const read = (headers: http2.IncomingHttpHeaders) => {
      if (headers["grpc-status"] !== undefined) status = `grpc-status ${String(headers["grpc-status"])} (${String(headers["recq-reason"] ?? "no reason")})`;
    };
    stream.on("response", read);
    stream.on("trailers", read);
    stream.on("close", () => resolve(status ?? `closed, RST_STREAM ${stream.rstCode}`));
  });
}

async function oversized(gateway: Started, address: string): Promise<void> {
  const body = Buffer.alloc(60 * MiB, 1);
  // Node's client counts the 60 MiB it has queued against its session memory (10 MB by default), and would
  // refuse the gateway's answer for want of it (ENHANCE_YOUR_CALM): give it room.
  const sessions = Array.from({ length: 8 }, () => http2.connect(`http://${address}`, { maxSessionMemory: 1024 }).on("error", () => undefined));
  const before = rssMiB(gateway.child.pid!);
  const started = Date.now();
  const outcomes = await Promise.all(
    sessions.map((session) => {
      const stream = request(session);
      const ended = outcome(stream);
      stream.write(prefix(body.length));
      stream.end(body);
      return ended;
    }),
  );
  for (const session of sessions) session.destroy();
  const counts = new Map<string, number>();
  for (const each of outcomes) counts.set(each, (counts.get(each) ?? 0) + 1);
  console.log(`8 x 60 MiB requests: ${[...counts].map(([what, n]) => `${n} x ${what}`).join(", ")} in ${Date.now() - started} ms`);
  console.log(`  gateway RSS before ${before.toFixed(1)} MiB, peak (VmHWM) ${peakRssMiB(gateway.child.pid!).toFixed(1)} MiB`);
}

async function stalled(gateway: Started, address: string, count: number, watchSeconds: number): Promise<void> {
  const sessions = Array.from({ length: 20 }, () => http2.connect(`http://${address}`).on("error", () => undefined));
  let open = 0;
  const outcomes = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const stream = request(sessions[i % sessions.length]!);
    open += 1;
    void outcome(stream).then((what) => {
      open -= 1;
      outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
    });
    stream.write(Buffer.concat([prefix(1000), Buffer.alloc(9)]));
  }
  const started = Date.now();
  for (const at of [...new Set([5, 15, watchSeconds])].sort((a, b) => a - b)) {
    const wait = at * 1000 - (Date.now() - started);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    console.log(`${count} stalled requests, after ${at} s: ${open} still open; gateway RSS ${rssMiB(gateway.child.pid!).toFixed(1)} MiB`);
  }
  console.log(`  their ends: ${[...outcomes].map(([what, n]) => `${n} x ${what}`).join(", ") || "none"}`);
  for (const session of sessions) session.destroy();
}

async function main(): Promise<void> {
  const [countArg, secondsArg] = process.argv.slice(2);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "recq-bench-"));
  const gateway = await startScript(
    GATEWAY_MAIN,
    ["--address", "127.0.0.1:0", "--data-dir", dataDir, "--descriptors", TODO_DESCRIPTORS],
    { RECQ_LOG_LEVEL: "info" },
    /"message":"gateway ready"/,
  );
  const address = `127.0.0.1:${Number(/"port":(\d+)/.exec(gateway.line)![1])}`;
  try {
    await oversized(gateway, address);
    await stalled(gateway, address, Number(countArg ?? 2_000), Number(secondsArg ?? 65));
  } finally {
    await gateway.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

void main();
