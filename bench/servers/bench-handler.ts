// The handler side of the benchmarks: GetTodoList (the same answer as the direct server), the TodoList
// aggregate, and optionally the TodoList projection and queries, linked to the gateway given in argv.
import { MeshService, EmbeddedViewStore } from "@recq-mesh/kit";
import { TodoListQueryServiceService } from "@recq-mesh/todo/gen/todo/v1/queries";
import { todoListAggregate, todoListProjection, todoListQueries } from "@recq-mesh/todo";
import { answerGetTodoList } from "./fixed-view";

const [address, mode] = process.argv.slice(2);
const mesh = new MeshService({ address: address!, component: "bench", maxConcurrent: 20_000 });
const holdMs = mode === "hold-query" ? Number(process.env.BENCH_HOLD_MS ?? 3000) : 0;
if (mode === "fixed-query" || mode === "hold-query") {
  mesh.addQueries({
    service: TodoListQueryServiceService,
    handlers: {
      // hold-query keeps every call in flight for a while: how the gateway holds many calls at once.
      getTodoList: async (request) => (holdMs > 0 ? new Promise((r) => setTimeout(() => r(answerGetTodoList(request)), holdMs)) : answerGetTodoList(request)),
      listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
      watchTodoList: async () => undefined,
    },
  });
} else {
  const views = new EmbeddedViewStore({ maxFindResults: 1000 });
  const projection = todoListProjection(views, "instance");
  mesh.addAggregate(todoListAggregate).addProjection(projection).addQueries(todoListQueries(views, projection));
}
mesh.start().then(
  () => process.stdout.write("ready\n"),
  (error: unknown) => {
    process.stderr.write(`bench handler failed: ${String(error)}\n`);
    process.exit(1);
  },
);
process.on("SIGTERM", () => void mesh.drain().then(() => process.exit(0)));
