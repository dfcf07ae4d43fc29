// A well-behaved caller beside an overload: one AddTodoItem at a time on a list of its own, each with a 5 s
// deadline, on a connection of its own, for `seconds`. Prints one JSON line: how many got through and how fast.
import { AddTodoItem, CreateTodoList } from "@recq-mesh/todo/gen/todo/v1/commands";
import { H2GrpcClient } from "../lib/h2-grpc-client";
import { latency, nowMs } from "../lib/stats";

const CREATE = "/todo.v1.TodoListCommandService/CreateTodoList";
const ADD = "/todo.v1.TodoListCommandService/AddTodoItem";
const DEADLINE = { "grpc-timeout": "5S" };

async function main(): Promise<void> {
  const [address, secondsArg] = process.argv.slice(2);
  const seconds = Number(secondsArg ?? 60);
  const client = new H2GrpcClient(address!, 1);
  const newList = async (n: number) => {
    const listId = `modest-${process.pid}-${n}`;
    await client.call(CREATE, CreateTodoList.encode({ listId, name: "A modest caller's list" }).finish(), DEADLINE);
    return listId;
  };
  let listId = await newList(0);
  const answered: number[] = [];
  const failures: Record<string, number> = {};
  const until = nowMs() + seconds * 1000;
  for (let n = 0; nowMs() < until; n++) {
    // Items per list stay below the aggregate's cap: a new list every 900 items.
    if (n > 0 && n % 900 === 0) listId = await newList(n);
    const started = nowMs();
    try {
      await client.call(ADD, AddTodoItem.encode({ listId, itemId: `i${n}`, text: "a modest item" }).finish(), DEADLINE);
      answered.push(nowMs() - started);
    } catch (error) {
      const status = /grpc-status (\w+)/.exec(String(error))?.[1] ?? "transport";
      failures[status] = (failures[status] ?? 0) + 1;
      // Back off a little as a well-behaved client does, instead of retrying at once.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  client.close();
  process.stdout.write(`${JSON.stringify({ ...latency(answered), failures })}\n`);
}

void main();
