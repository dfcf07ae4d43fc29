// `npm run bench:reply-channel [-- requests]`: GetTodoList through the gateway as unary calls and on one
// ReplyChannelService.Open stream, 100 in flight either way (closed loop), against the bench handler's fixed view;
// then a caller that writes 20,000 requests on one stream without reading any answer: what the gateway holds for it.
// Prints the figures; asserts nothing. Client, gateway and handler share the machine's cores: figures are noisy.
import { credentials, Metadata } from "@grpc/grpc-js";
import { ReplyChannelServiceClient, type OpenResponse } from "@recq-mesh/protocol/gen/recq/v1/reply_channel";
import { GetTodoList, TodoListQueryServiceClient } from "@recq-mesh/todo/gen/todo/v1/queries";
import { startMesh } from "./lib/mesh";
import { cpuMicros, rssMiB } from "./lib/processes";

const IN_FLIGHT = 100;
const GET = "todo.v1.TodoListQueryService/GetTodoList";
const payload = { typeUrl: "type.googleapis.com/todo.v1.GetTodoList", value: Buffer.from(GetTodoList.encode({ listId: "groceries" }).finish()) };

interface Figures {
  perSecond: number;
  gatewayMicrosPerRequest: number;
}

async function measured(gatewayPid: number, requests: number, run: () => Promise<void>): Promise<Figures> {
  const cpu = cpuMicros(gatewayPid);
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: requests / seconds, gatewayMicrosPerRequest: (cpuMicros(gatewayPid) - cpu) / requests };
}

function unaryLoop(address: string, requests: number): Promise<void> {
  const client = new TodoListQueryServiceClient(address, credentials.createInsecure());
  let sent = 0;
  const worker = async () => {
    while (sent < requests) {
      sent += 1;
      await new Promise<void>((resolve, reject) =>
        client.getTodoList({ listId: "groceries" }, new Metadata(), (error) => (error ? reject(error) : resolve())),
      );
    }
  };
  return Promise.all(Array.from({ length: IN_FLIGHT }, worker)).then(() => client.close());
}

function streamLoop(address: string, requests: number): Promise<void> {
  const client = new ReplyChannelServiceClient(address, credentials.createInsecure());
  const stream = client.open();
  let sent = 0;
  let answered = 0;
  const send = () => stream.write({ id: String(sent++), method: GET, payload, metadata: {}, timeoutMs: 0 });
  return new Promise<void>((resolve, reject) => {
    stream.on("data", (answer: OpenResponse) => {
      if (answer.result?.$case !== "answer") return reject(new Error(JSON.stringify(answer.result)));
      answered += 1;
      if (sent < requests) send();
      else if (answered === requests) stream.end();
    });
    stream.on("error", reject);
    stream.on("status", () => (client.close(), resolve()));
    for (let i = 0; i < IN_FLIGHT; i++) send();
  });
}

/** Writes `requests` requests on one stream and reads nothing; the gateway's RSS as it ends the stream. */
async function flood(address: string, gatewayPid: number, requests: number): Promise<void> {
  const client = new ReplyChannelServiceClient(address, credentials.createInsecure());
  const stream = client.open();
  stream.pause();
  const before = rssMiB(gatewayPid);
  const ended = new Promise<string>((resolve) => stream.on("status", (s: { code: number; details: string }) => resolve(`status ${s.code}: ${s.details}`)));
  stream.on("error", () => undefined);
  for (let i = 0; i < requests; i++) stream.write({ id: String(i), method: GET, payload, metadata: {}, timeoutMs: 0 });
  let peak = before;
  const watch = setInterval(() => (peak = Math.max(peak, rssMiB(gatewayPid))), 50);
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  stream.on("data", () => undefined);
  stream.resume();
  const how = await ended;
  clearInterval(watch);
  console.log(`flood: ${requests} requests written, no answer read for 3 s → ${how}`);
  console.log(`flood: gateway RSS ${before.toFixed(0)} MiB before, ${peak.toFixed(0)} MiB at most`);
  client.close();
}

async function main(): Promise<void> {
  const requests = Number(process.argv[2] ?? 20_000);
  const mesh = await startMesh("fixed-query");
  const pid = mesh.gateway.child.pid!;
  try {
    // Warm up both paths.
    await unaryLoop(mesh.address, 2_000);
    await streamLoop(mesh.address, 2_000);
    for (let round = 1; round <= 3; round++) {
      const unary = await measured(pid, requests, () => unaryLoop(mesh.address, requests));
      const stream = await measured(pid, requests, () => streamLoop(mesh.address, requests));
      console.log(
        `round ${round}: unary ${unary.perSecond.toFixed(0)}/s (gateway ${unary.gatewayMicrosPerRequest.toFixed(0)} µs CPU each), ` +
          `one Open stream ${stream.perSecond.toFixed(0)}/s (gateway ${stream.gatewayMicrosPerRequest.toFixed(0)} µs CPU each), ratio ${(stream.perSecond / unary.perSecond).toFixed(2)}`,
      );
    }
    await flood(mesh.address, pid, 20_000);
  } finally {
    await mesh.stop();
  }
}

void main();
