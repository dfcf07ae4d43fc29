// Projection lag: commands at a steady rate over `lists` lists, each list watched (WatchTodoList); for every
// command, the time from its CommandAck to the watch showing that version. Prints one JSON line.
import { credentials } from "@grpc/grpc-js";
import { AddTodoItem, CreateTodoList } from "@recq-mesh/todo/gen/todo/v1/commands";
import { CommandAck } from "@recq-mesh/protocol/gen/recq/v1/command";
import { TodoListQueryServiceClient, type TodoListView } from "@recq-mesh/todo/gen/todo/v1/queries";
import { H2GrpcClient } from "../lib/h2-grpc-client";
import { latency, nowMs, round } from "../lib/stats";

const CREATE = "/todo.v1.TodoListCommandService/CreateTodoList";
const ADD = "/todo.v1.TodoListCommandService/AddTodoItem";

async function main(): Promise<void> {
  const [address, rateArg, secondsArg, listsArg] = process.argv.slice(2);
  const rate = Number(rateArg ?? 2000);
  const seconds = Number(secondsArg ?? 10);
  const lists = Number(listsArg ?? 100);
  const client = new H2GrpcClient(address!, 4);
  const watcher = new TodoListQueryServiceClient(address!, credentials.createInsecure());
  const prefix = `lag-${process.pid}-`;
  const acked = new Map<string, number>();
  const seen = new Map<string, number>();
  await Promise.all(Array.from({ length: lists }, (_, i) => client.call(CREATE, CreateTodoList.encode({ listId: `${prefix}${i}`, name: "Lag" }).finish())));
  const streams = Array.from({ length: lists }, (_, i) => {
    const stream = watcher.watchTodoList({ listId: `${prefix}${i}` });
    stream.on("data", (view: TodoListView) => seen.set(`${view.listId}:${view.version}`, nowMs()));
    stream.on("error", () => undefined);
    return stream;
  });
  await new Promise((r) => setTimeout(r, 500));
  let sent = 0;
  let failures = 0;
  const pending: Promise<void>[] = [];
  const started = nowMs();
  const total = rate * seconds;
  // A tick every 5 ms sends what the rate owes by then: steady, not bursts of a second's worth.
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const owed = Math.min(total, Math.floor(((nowMs() - started) / 1000) * rate));
      for (; sent < owed; sent++) {
        const listId = `${prefix}${sent % lists}`;
        pending.push(
          client.call(ADD, AddTodoItem.encode({ listId, itemId: `i${sent}`, text: "lag" }).finish()).then(
            (bytes) => void acked.set(`${listId}:${CommandAck.decode(bytes).sequence}`, nowMs()),
            () => void (failures += 1),
          ),
        );
      }
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  const sendSeconds = (nowMs() - started) / 1000;
  await Promise.all(pending);
  await new Promise((r) => setTimeout(r, 1000));
  const lags: number[] = [];
  let missing = 0;
  for (const [key, ackedAt] of acked) {
    const seenAt = seen.get(key);
    if (seenAt === undefined) missing += 1;
    else lags.push(Math.max(0, seenAt - ackedAt));
  }
  for (const stream of streams) stream.cancel();
  watcher.close();
  client.close();
  process.stdout.write(`${JSON.stringify({ rate, seconds, achievedRate: round(sent / sendSeconds, 1), acked: acked.size, failures, missing, ...latency(lags) })}\n`);
}

void main();
