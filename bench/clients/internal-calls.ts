// The internal path: a TypeScript service sending commands through the handler kit over its link ("link"), or
// the same commands as grpc-js unary calls ("unary"), at a fixed concurrency. Prints one JSON line.
import { credentials } from "@grpc/grpc-js";
import { MeshService } from "@recq-mesh/kit";
import { TodoListCommandServiceClient, TodoListCommandServiceService } from "@recq-mesh/todo/gen/todo/v1/commands";
import { unary } from "../lib/clients";
import { closedLoop } from "../lib/closed-loop";

async function main(): Promise<void> {
  const [address, mode, concurrencyArg, secondsArg] = process.argv.slice(2);
  const concurrency = Number(concurrencyArg ?? 100);
  const seconds = Number(secondsArg ?? 8);
  const lists = 1000;
  const mesh = new MeshService({ address: address!, component: "bench-caller" });
  await mesh.start();
  const client = new TodoListCommandServiceClient(address!, credentials.createInsecure());
  const send =
    mode === "link"
      ? (request: { listId: string; itemId: string; text: string }) => mesh.call(TodoListCommandServiceService.addTodoItem, request)
      : (request: { listId: string; itemId: string; text: string }) => unary(client, client.addTodoItem, request);
  const prefix = `${mode}-${process.pid}-`;
  for (let i = 0; i < lists; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) => mesh.call(TodoListCommandServiceService.createTodoList, { listId: `${prefix}${i + j}`, name: "Internal" })),
    );
  }
  const result = await closedLoop(concurrency, seconds, (n) => send({ listId: `${prefix}${n % lists}`, itemId: `i${n}`, text: "internal" }));
  client.close();
  mesh.close();
  process.stdout.write(`${JSON.stringify({ mode, ...result })}\n`);
}

void main();
