// `npm run bench:connect-json [-- requests]`: GetTodoList through the gateway's gRPC port (grpc-js unary calls) and
// through its HTTP port (Connect unary JSON over HTTP/1.1 keep-alive connections), 100 in flight either way (closed
// loop), against the bench handler's fixed view. Prints calls/s and the gateway's CPU per call for each; asserts
// nothing. Client, gateway and handler share the machine's cores: figures are noisy, compare them run by run.
import http from "node:http";
import { credentials, Metadata } from "@grpc/grpc-js";
import { TodoListQueryServiceClient } from "@recq-mesh/todo/gen/todo/v1/queries";
import { startMesh } from "./lib/mesh";
import { cpuMicros } from "./lib/processes";

const IN_FLIGHT = 100;
const BODY = JSON.stringify({ listId: "groceries" });

interface Figures {
  perSecond: number;
  gatewayMicrosPerCall: number;
}

async function measured(gatewayPid: number, calls: number, run: () => Promise<void>): Promise<Figures> {
  const cpu = cpuMicros(gatewayPid);
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: calls / seconds, gatewayMicrosPerCall: (cpuMicros(gatewayPid) - cpu) / calls };
}

function grpcLoop(address: string, calls: number): Promise<void> {
  const client = new TodoListQueryServiceClient(address, credentials.createInsecure());
  let sent = 0;
  const worker = async () => {
    while (sent < calls) {
      sent += 1;
      await new Promise<void>((resolve, reject) => client.getTodoList({ listId: "groceries" }, new Metadata(), (error) => (error ? reject(error) : resolve())));
    }
  };
  return Promise.all(Array.from({ length: IN_FLIGHT }, worker)).then(() => client.close());
}

function connectJsonLoop(httpAddress: string, calls: number): Promise<void> {
  const [host, port] = httpAddress.split(":");
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const request = http.request(
        { host, port: Number(port), method: "POST", path: "/todo.v1.TodoListQueryService/GetTodoList", agent, headers: { "content-type": "application/json", "content-length": BODY.length } },
        (response) => {
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => (text += chunk));
          response.on("end", () => (response.statusCode === 200 ? resolve() : reject(new Error(`${response.statusCode}: ${text}`))));
        },
      );
      request.on("error", reject);
      request.end(BODY);
    });
  let sent = 0;
  const worker = async () => {
    while (sent < calls) {
      sent += 1;
      await one();
    }
  };
  return Promise.all(Array.from({ length: IN_FLIGHT }, worker)).then(() => agent.destroy());
}

async function main(): Promise<void> {
  const calls = Number(process.argv[2] ?? 20_000);
  const mesh = await startMesh("fixed-query", { RECQ_HTTP_ADDRESS: "127.0.0.1:0" });
  const httpAddress = `127.0.0.1:${/"httpPort":(\d+)/.exec(mesh.gateway.line)![1]}`;
  const pid = mesh.gateway.child.pid!;
  try {
    // Warm up both paths.
    await grpcLoop(mesh.address, 2_000);
    await connectJsonLoop(httpAddress, 2_000);
    for (let round = 1; round <= 3; round++) {
      const grpc = await measured(pid, calls, () => grpcLoop(mesh.address, calls));
      const connect = await measured(pid, calls, () => connectJsonLoop(httpAddress, calls));
      console.log(
        `round ${round}: gRPC ${grpc.perSecond.toFixed(0)}/s (gateway ${grpc.gatewayMicrosPerCall.toFixed(0)} µs CPU each), ` +
          `Connect JSON ${connect.perSecond.toFixed(0)}/s (gateway ${connect.gatewayMicrosPerCall.toFixed(0)} µs CPU each), ratio ${(connect.perSecond / grpc.perSecond).toFixed(2)}`,
      );
    }
  } finally {
    await mesh.stop();
  }
}

void main();
