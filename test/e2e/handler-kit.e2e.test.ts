import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import { status } from "@grpc/grpc-js";
import { MeshService } from "@recq-mesh/kit";
import { todoListAggregate } from "@recq-mesh/todo";
import { TodoListQueryServiceService, type TodoListView } from "@recq-mesh/todo/gen/todo/v1/queries";
import { call, closeHandlers, failure, gatewayForSuite, startTodo } from "../support/mesh-harness";

function view(listId: string, name: string): TodoListView {
  return { listId, name, items: [], itemCount: 0, completedCount: 0, version: "1", deleted: false, createdAt: undefined, updatedAt: undefined };
}

/** A query service whose GetTodoList answers with the instance's name, to see where each call went. */
async function namedQueryInstance(address: string, name: string, counts: Map<string, number>): Promise<MeshService> {
  const mesh = new MeshService({ address, component: "named-queries", instanceId: name });
  mesh.addQueries({
    service: TodoListQueryServiceService,
    handlers: {
      getTodoList: async (request) => {
        counts.set(name, (counts.get(name) ?? 0) + 1);
        return view(request.listId, name);
      },
      listTodoLists: async () => ({ lists: [], nextPageToken: "" }),
      watchTodoList: async () => undefined,
    },
  });
  await mesh.start();
  return mesh;
}

describe("handler kit", () => {
  const suite = gatewayForSuite("kit");

  it("spreads queries without a routing key across instances", async () => {
    const { mesh, clients } = suite;
    const counts = new Map<string, number>();
    const a = await namedQueryInstance(mesh.address, "a", counts);
    const b = await namedQueryInstance(mesh.address, "b", counts);
    try {
      const names = new Set<string>();
      for (let i = 0; i < 20; i++) names.add((await call(clients.queries, clients.queries.getTodoList, { listId: `q${i}` })).name);
      assert.deepEqual([...names].sort(), ["a", "b"]);
      assert.equal((counts.get("a") ?? 0) + (counts.get("b") ?? 0), 20);
      assert.ok(Math.abs((counts.get("a") ?? 0) - (counts.get("b") ?? 0)) <= 4, `balanced: ${JSON.stringify([...counts])}`);
    } finally {
      await closeHandlers(mesh.gateway, [a, b]);
    }
  });

  it("drains gracefully: work in flight finishes, new work goes to the other instance", async () => {
    const { mesh, clients } = suite;
    let release!: () => void;
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const draining = new MeshService({ address: mesh.address, component: "todo", instanceId: "draining" });
    draining.addAggregate({
      ...todoListAggregate,
      decide: {
        ...todoListAggregate.decide,
        createTodoList: (command) => {
          entered();
          return new Promise((resolve) => (release = () => resolve([{ type: "todo.v1.TodoListCreated", data: { listId: command.listId, name: command.name } }])));
        },
      },
    });
    await draining.start();
    const inFlight = call(clients.commands, clients.commands.createTodoList, { listId: "in-flight", name: "In flight" });
    await inside;
    const other = await startTodo(mesh.address, { roles: ["commands"], instanceId: "other" });
    try {
      const drained = draining.drain();
      // Once its unsubscribe has landed, the draining instance gets nothing new: a new list goes to the other one.
      await new Promise((r) => setTimeout(r, 100));
      const ack = await call(clients.commands, clients.commands.createTodoList, { listId: "after-drain", name: "After" });
      assert.equal(ack.sequence, "1");
      release();
      assert.equal((await inFlight).sequence, "1", "the call in flight was answered, not dropped");
      await drained;
    } finally {
      await closeHandlers(mesh.gateway, [other.mesh]);
    }
  });

  it("holds a query with a consistency token until its deadline when the projection never gets there", async () => {
    const { mesh, clients } = suite;
    const todo = await startTodo(mesh.address);
    try {
      await call(clients.commands, clients.commands.createTodoList, { listId: "ryw", name: "RYW" });
      const error = await failure(call(clients.queries, clients.queries.getTodoList, { listId: "ryw" }, { "recq-consistency-token": "999999" }, 300));
      assert.equal(error.code, status.DEADLINE_EXCEEDED);
      // The projection is live and answers a reachable token at once.
      const ack = await call(clients.commands, clients.commands.renameTodoList, { listId: "ryw", name: "Renamed" });
      const fresh = await call(clients.queries, clients.queries.getTodoList, { listId: "ryw" }, { "recq-consistency-token": ack.position });
      assert.equal(fresh.name, "Renamed");
    } finally {
      await closeHandlers(mesh.gateway, [todo.mesh]);
    }
  });
});
