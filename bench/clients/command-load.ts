// Commands end to end, from a process of their own: `concurrency` AddTodoItem calls in flight at all times
// over `lists` aggregates for `seconds`, each a real append. Prints one JSON line.
import { AddTodoItem, CreateTodoList } from "@recq-mesh/todo/gen/todo/v1/commands";
import { H2GrpcClient } from "../lib/h2-grpc-client";
import { closedLoop } from "../lib/closed-loop";

const CREATE = "/todo.v1.TodoListCommandService/CreateTodoList";
const ADD = "/todo.v1.TodoListCommandService/AddTodoItem";

async function main(): Promise<void> {
  const [address, concurrencyArg, secondsArg, listsArg] = process.argv.slice(2);
  const concurrency = Number(concurrencyArg ?? 200);
  const seconds = Number(secondsArg ?? 10);
  const lists = Number(listsArg ?? 2000);
  const client = new H2GrpcClient(address!, 4);
  const prefix = `load-${process.pid}-`;
  for (let i = 0; i < lists; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, lists - i) }, (_, j) => {
        return client.call(CREATE, CreateTodoList.encode({ listId: `${prefix}${i + j}`, name: `List ${i + j}` }).finish());
      }),
    );
  }
  // Items per list stay far below the aggregate's cap of 1,000.
  const result = await closedLoop(concurrency, seconds, (n) =>
    client.call(ADD, AddTodoItem.encode({ listId: `${prefix}${n % lists}`, itemId: `i${n}`, text: "benchmark item" }).finish()),
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
  client.close();
}

void main();
