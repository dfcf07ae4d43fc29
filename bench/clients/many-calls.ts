// Holds `count` GetTodoList calls in flight at once (the handler answers each after a delay), over a few
// HTTP/2 connections. Prints "in-flight" once all were sent, then one JSON line when all came back.
import { GetTodoList } from "@recq-mesh/todo/gen/todo/v1/queries";
import { H2GrpcClient } from "../lib/h2-grpc-client";
import { nowMs, round } from "../lib/stats";

async function main(): Promise<void> {
  const [address, countArg] = process.argv.slice(2);
  const count = Number(countArg ?? 10_000);
  const client = new H2GrpcClient(address!, 20);
  const started = nowMs();
  let failures = 0;
  const calls = Array.from({ length: count }, (_, i) =>
    client.call("/todo.v1.TodoListQueryService/GetTodoList", GetTodoList.encode({ listId: `l${i}` }).finish(), { "grpc-timeout": "60S" }).catch(() => {
      failures += 1;
    }),
  );
  process.stdout.write("in-flight\n");
  await Promise.all(calls);
  client.close();
  process.stdout.write(`${JSON.stringify({ count, failures, seconds: round((nowMs() - started) / 1000) })}\n`);
}

void main();
