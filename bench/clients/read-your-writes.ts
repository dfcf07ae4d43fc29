// Read-your-writes: after each acknowledged command, the same GetTodoList with the ack's consistency token
// and without it, one after the other. Prints one JSON line with both latencies.
import { AddTodoItem, CreateTodoList } from "@recq-mesh/todo/gen/todo/v1/commands";
import { CommandAck } from "@recq-mesh/protocol/gen/recq/v1/command";
import { GetTodoList, TodoListView } from "@recq-mesh/todo/gen/todo/v1/queries";
import { H2GrpcClient } from "../lib/h2-grpc-client";
import { latency, nowMs } from "../lib/stats";

const CREATE = "/todo.v1.TodoListCommandService/CreateTodoList";
const ADD = "/todo.v1.TodoListCommandService/AddTodoItem";
const GET = "/todo.v1.TodoListQueryService/GetTodoList";

async function main(): Promise<void> {
  const [address, roundsArg] = process.argv.slice(2);
  const rounds = Number(roundsArg ?? 1000);
  const client = new H2GrpcClient(address!, 1);
  const listId = `ryw-${process.pid}`;
  await client.call(CREATE, CreateTodoList.encode({ listId, name: "RYW" }).finish());
  const withToken: number[] = [];
  const plain: number[] = [];
  let stale = 0;
  const query = GetTodoList.encode({ listId }).finish();
  for (let i = 0; i < rounds; i++) {
    const ack = CommandAck.decode(await client.call(ADD, AddTodoItem.encode({ listId, itemId: `i${i % 900}-${i}`, text: "x" }).finish()));
    let started = nowMs();
    const view = TodoListView.decode(await client.call(GET, query, { "recq-consistency-token": ack.position }));
    withToken.push(nowMs() - started);
    if (view.version !== ack.sequence) stale += 1;
    started = nowMs();
    await client.call(GET, query);
    plain.push(nowMs() - started);
    if (i % 900 === 899) await client.call(CREATE, CreateTodoList.encode({ listId: `${listId}-${i}`, name: "RYW" }).finish());
  }
  client.close();
  process.stdout.write(`${JSON.stringify({ rounds, stale, withToken: latency(withToken), plain: latency(plain) })}\n`);
}

void main();
